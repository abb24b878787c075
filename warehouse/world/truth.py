"""The hidden true-risk process: each application's true probability of default and its sampled outcome.

``true_pd`` is a logistic function of the applicant's latent creditworthiness and of the *true* (format v2, never
zeroed) bureau attributes, affordability (loan-to-income, EMI-to-income, worse for the self-employed), job stability
and internal repayment history. Models learn it back from the observable columns; the latent part they cannot see
keeps the problem honest (a perfect AUC is impossible).
"""

from __future__ import annotations

import numpy as np

NOMINAL_APR = 0.18
"""APR used to turn the requested loan into an EMI for the affordability terms of the truth."""
INTERCEPT = -3.05


def emi(amount: np.ndarray, months: np.ndarray, apr: float | np.ndarray = NOMINAL_APR) -> np.ndarray:
    """Monthly instalment of an amortising loan."""
    r = np.asarray(apr) / 12
    return amount * r / (1 - (1 + r) ** (-months.astype(float)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def true_pd(cols: dict[str, np.ndarray]) -> np.ndarray:
    """12-month probability of reaching 90+ DPD if funded at the requested terms.

    ``cols`` needs: z, dpd30_count_12m, dpd90_count_12m, enquiries_90d, utilisation_pct (NaN when thin),
    thin_file, requested_amount, requested_tenure_months, monthly_income, existing_emi, self_employed,
    employer_tenure_months, hist_defaulted, hist_avg_days_late, hist_restructured, hist_clean.
    """
    income = cols["monthly_income"]
    lti = cols["requested_amount"] / (12 * income)
    eti = (cols["existing_emi"] + emi(cols["requested_amount"], cols["requested_tenure_months"])) / income
    util = np.nan_to_num(cols["utilisation_pct"], nan=45.0) / 100
    logit = (
        INTERCEPT
        - 0.58 * cols["z"]
        + 0.45 * np.minimum(cols["dpd30_count_12m"], 6)
        + 0.85 * np.minimum(cols["dpd90_count_12m"], 4)
        + 0.14 * np.minimum(cols["enquiries_90d"], 15)
        + 1.20 * np.minimum(util, 1.3)
        + 0.30 * cols["thin_file"]
        + 0.80 * (np.minimum(lti, 3.0) - 0.4)
        + 1.30 * (np.minimum(eti, 1.5) - 0.35)
        + 0.55 * cols["self_employed"] * np.maximum(lti - 0.4, 0)
        + 0.35 * (cols["employer_tenure_months"] < 12)
        + 0.80 * cols["hist_defaulted"]
        + 0.03 * np.minimum(cols["hist_avg_days_late"], 60)
        + 0.40 * cols["hist_restructured"]
        - 0.30 * cols["hist_clean"]
    )
    return np.clip(sigmoid(logit), 0.002, 0.95)


def outcomes(pd_: np.ndarray, z: np.ndarray, tenure: np.ndarray, channel_takeup: np.ndarray,
             amount: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Sample bad_if_funded ~ Bernoulli(true_pd), when bad loans default, and offer take-up propensity."""
    n = len(pd_)
    bad = rng.random(n) < pd_
    # 90+ DPD needs three missed instalments: the earliest is instalment 3, most defaults come in months 4-7
    months = 3 + rng.binomial(9, 0.35, n)
    months = np.minimum(months, np.minimum(12, tenure + 3))
    takeup = sigmoid(0.9 - 0.35 * z + channel_takeup - 0.25 * (amount > 500_000))
    return {
        "bad_if_funded": bad,
        "months_to_default": np.where(bad, months, -1),
        "takeup_propensity": np.round(np.clip(takeup, 0.05, 0.97), 4),
    }


CHANNEL_TAKEUP = {"app": 0.3, "web": 0.0, "aggregator": -0.25, "dsa": 0.4, "bank_branch": 0.5}
"""Channel effect on take-up (logit): comparison sites make shoppers, agents and branches close the sale."""
