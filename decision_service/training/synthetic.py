"""Synthetic application inputs with a known risk structure, for unit tests and benchmarks.

Why not the world generator: registry, reason-code and gate tests need a model in a second, not a world in ten; and
the scoring benchmark must run on a fresh checkout. The inputs go through the real :func:`build_features`, so the
models trained on them are shaped exactly like production models.
"""

from __future__ import annotations

import numpy as np

from decision_service.features import FEATURE_NAMES, build_features, to_matrix

Columns = dict[str, np.ndarray]


def synthetic_inputs(n: int, seed: int = 0) -> tuple[Columns, Columns, Columns]:
    """Application, bureau and history columns for ``n`` applicants, plus nothing hidden."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(size=n)
    thin = rng.random(n) < 0.12
    score = np.clip(np.round(720 + 60 * quality + rng.normal(0, 30, n)), 300, 900).astype(np.float64)
    score[thin] = np.nan
    lam = np.exp(-0.9 * quality - 1.2)
    income = np.round(np.exp(rng.normal(10.6, 0.5, n)), -2)
    tenure = rng.choice([12, 24, 36, 48, 60], size=n).astype(np.float64)
    amount = np.round(income * rng.uniform(2, 14, n), -3)
    emp = np.where(rng.random(n) < 0.3, "self_employed", "salaried").astype(object)
    dob = (np.datetime64("2025-01-01") - (rng.uniform(21, 60, n) * 365.25).astype("timedelta64[D]")).astype(
        "datetime64[D]"
    )
    app = {
        "requested_amount": amount,
        "requested_tenure_months": tenure,
        "employment_type": emp,
        "monthly_income": income,
        "employer_tenure_months": rng.integers(0, 180, n).astype(np.float64),
        "existing_emi": np.round(income * rng.uniform(0, 0.4, n), -2),
        "date_of_birth": dob,
        "received_at": np.full(n, np.datetime64("2025-01-15T10:00:00", "us")),
    }
    sec = rng.poisson(np.where(thin, 0.0, 0.8))
    unsec = rng.poisson(np.where(thin, 0.0, 2.0))
    bureau = {
        "bureau_score": score,
        "dpd30_count_12m": rng.poisson(lam).astype(np.float64),
        "dpd90_count_12m": rng.poisson(lam * 0.3).astype(np.float64),
        "enquiries_90d": rng.poisson(np.exp(-0.5 * quality + 0.5)).astype(np.float64),
        "utilisation_pct": np.where(thin, np.nan, np.clip(50 - 20 * quality + rng.normal(0, 15, n), 0, 120)),
        "oldest_account_age_months": np.where(thin, np.nan, rng.integers(6, 200, n)).astype(np.float64),
        "secured_accounts": sec.astype(np.float64),
        "unsecured_accounts": unsec.astype(np.float64),
        "total_outstanding": np.round(income * rng.uniform(0, 10, n), -2),
        "thin_file": thin.astype(np.float64),
    }
    repeat = rng.random(n) < 0.15
    due = np.where(repeat, rng.integers(3, 36, n), np.nan).astype(np.float64)
    on_time = np.where(repeat, np.floor(due * np.clip(0.9 + 0.08 * quality, 0, 1)), np.nan)
    history = {
        "prior_instalments_due": due,
        "prior_instalments_on_time": on_time,
        "prior_avg_days_late": np.where(repeat, np.clip(3 - 3 * quality, 0, None), np.nan),
        "prior_restructured": np.where(repeat, (rng.random(n) < 0.05).astype(np.float64), np.nan),
    }
    return app, bureau, history


def synthetic_training_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(X in FEATURE_NAMES order, bad outcome, features) with defaults driven by DPD, enquiries, score and LTI."""
    app, bureau, history = synthetic_inputs(n, seed)
    feats = build_features(app, bureau, history)
    rng = np.random.default_rng(seed + 1)
    z = (
        -3.0
        + 0.55 * np.nan_to_num(feats["dpd30_count_12m"])
        + 1.1 * np.nan_to_num(feats["dpd90_count_12m"])
        + 0.28 * np.nan_to_num(feats["enquiries_90d"])
        - 0.012 * (np.nan_to_num(feats["bureau_score"], nan=690.0) - 720)
        + 0.6 * feats["thin_file"]
        + 0.9 * np.clip(np.nan_to_num(feats["loan_to_income"]), 0, 2)
        + 0.5 * np.nan_to_num(feats["lti_x_self_employed"])
    )
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
    return to_matrix(feats, FEATURE_NAMES), y, feats
