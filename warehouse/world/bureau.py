"""Credit bureau reports: correlated score, delinquency, enquiry, utilisation and account attributes.

Every attribute is driven by the bureau's noisy view ``zb`` of the applicant's latent creditworthiness, and the score
is computed *from* the attributes plus noise, so score, DPD counts and utilisation move together the way they do in
a real CIBIL report. Thin-file applicants (too little history) get no score and NULL utilisation.

:func:`true_report` returns what the bureau knows; :func:`reported` applies the scenario switches that change what
the feed *says* (format v3 inflating DPD30, utilisation silently zero) without changing the truth.
"""

from __future__ import annotations

import numpy as np


def true_report(zb: np.ndarray, thin: np.ndarray, age: np.ndarray, enquiry_uplift: np.ndarray, repeat: np.ndarray,
                rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Bureau attributes per application (report format v2). Float arrays use NaN for NULL."""
    n = len(zb)
    thick = ~thin
    dpd30 = np.where(thick, np.minimum(rng.poisson(np.exp(-1.5 - 0.9 * zb)), 12), 0)
    dpd90 = np.where(thick, rng.binomial(dpd30, 1 / (1 + np.exp(1.1 + 0.8 * zb))), 0)
    enquiries = rng.poisson(np.exp(0.25 - 0.35 * zb) * enquiry_uplift * np.where(thin, 0.6, 1.0)) + repeat
    mean_util = 1 / (1 + np.exp(0.45 + 0.75 * zb))
    util = 100 * rng.beta(np.maximum(mean_util * 4, 0.05), np.maximum((1 - mean_util) * 4, 0.05))
    util = np.where(rng.random(n) < 0.03, util * rng.uniform(1.0, 1.35, n), util)  # over-limit cards
    util = np.where(rng.random(n) < 0.02, 0.0, np.round(util, 1))  # no revolving balance
    util = np.where(thin, np.nan, util)
    history_months = np.maximum((age - 19) * 12, 6)
    oldest = np.where(thin, np.nan, np.maximum(np.round(history_months * rng.beta(2.5, 2.0, n)), 6))
    secured = np.where(thin, 0, rng.poisson(0.1 + 0.025 * (age - 21)))
    unsecured = np.where(thin, rng.poisson(0.3, n), 1 + rng.poisson(np.exp(0.45 - 0.15 * zb)))
    oldest = np.where(thin & (unsecured > 0), rng.integers(1, 7, n), oldest)
    outstanding = (secured * rng.lognormal(np.log(9e5), 0.7, n) + unsecured * rng.lognormal(np.log(55e3), 0.8, n))
    outstanding = np.round(outstanding * np.where(thin, 0.3, 1.0), -2)
    score = (735 + 68 * zb - 14 * dpd30 - 24 * dpd90 - 2 * np.minimum(enquiries, 10)
             - 0.45 * (np.nan_to_num(util, nan=35.0) - 35) + 0.12 * np.minimum(np.nan_to_num(oldest), 120)
             + 18 * rng.standard_normal(n))
    score = np.where(thin, np.nan, np.clip(np.round(score), 300, 900))
    return {
        "bureau_score": score,
        "dpd30_count_12m": dpd30.astype(np.int32),
        "dpd90_count_12m": dpd90.astype(np.int32),
        "enquiries_90d": enquiries.astype(np.int32),
        "utilisation_pct": util,
        "oldest_account_age_months": oldest,
        "secured_accounts": secured.astype(np.int32),
        "unsecured_accounts": unsecured.astype(np.int32),
        "total_outstanding": outstanding,
        "thin_file": thin,
    }


def reported(true: dict[str, np.ndarray], *, format_v3: bool, utilisation_zero: bool,
             rng: np.random.Generator) -> dict[str, np.ndarray]:
    """What the bureau feed sends for one day, given which scenario switches are active that day."""
    out = dict(true)
    n = len(true["thin_file"])
    if format_v3:
        dpd30 = true["dpd30_count_12m"]
        inflated = dpd30 + rng.poisson(0.35 + 0.6 * dpd30)
        out["dpd30_count_12m"] = np.where(true["thin_file"], 0, np.minimum(inflated, 12)).astype(np.int32)
    if utilisation_zero:
        out["utilisation_pct"] = np.zeros(n)
    out["report_format_version"] = np.full(n, "v3" if format_v3 else "v2")
    return out


def existing_emi(outstanding: np.ndarray, income: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Monthly EMI already being paid, consistent with the bureau's outstanding balance (capped at 75% of income)."""
    emi = outstanding * rng.uniform(0.025, 0.045, len(outstanding))
    return np.round(np.minimum(emi, 0.75 * income), -2)
