"""Fitting one lender's model: LightGBM on ground-truth outcomes, then Platt calibration on a held-out split.

Why Platt (a logistic fit of the outcome on the booster's margin) rather than isotonic: it is strictly monotone, so
the calibrated PDs have no ties and quantile thresholds (initial cut-offs, the deployment gate's recalibration) can hit
a target approve rate exactly; it costs two multiplications at n=1; and a boosted model trained with a logistic loss
is already close to calibrated up to an affine map of its margin. The validation report's calibration curve shows
whether that holds (it does on the synthetic world).

Monotone constraints on the features whose direction of risk is not in doubt (more DPD -> riskier, higher bureau
score -> safer, ...) keep adverse reasons accurate: a model cannot blame "too few enquiries".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.linear_model import LogisticRegression

from decision_service.features import FEATURE_SET_VERSION
from decision_service.reasons import CATALOGUE_PATH, load_catalogue
from decision_service.registry import ModelArtifact, Thresholds

MONOTONE: dict[str, int] = {
    "bureau_score": -1,
    "dpd30_count_12m": 1,
    "dpd90_count_12m": 1,
    "enquiries_90d": 1,
    "utilisation_pct": 1,
    "oldest_account_age_months": -1,
    "loan_to_income": 1,
    "emi_to_income": 1,
    "repayment_consistency": -1,
    "avg_days_late": 1,
}


class TrainingError(ValueError):
    """Training data unusable (one class only, too few rows, mismatched shapes)."""


@dataclass(frozen=True)
class TrainParams:
    """Hyper-parameters of one lender's model (lenders differ: see training.pipeline.LENDER_PARAMS)."""

    num_trees: int = 200
    num_leaves: int = 15
    max_depth: int = 5
    learning_rate: float = 0.06
    min_child_samples: int = 200
    feature_fraction: float = 0.9
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    seed: int = 0
    calibration_share: float = 0.25
    early_stopping_rounds: int = 20
    num_threads: int = 0
    """0 = automatic: one thread below 200k rows. OpenMP threads spin-wait, so on a busy 2-core machine two threads
    on a small data set are an order of magnitude slower than one (measured: 9 s vs 0.5 s for 12k rows)."""
    oversample_bads: float = 1.0
    """Duplicate defaulters by this factor in the fit AND calibration splits. 1.0 in production; values above 1
    reproduce the classic incident of a retrain on a re-weighted sample whose PDs come out inflated (gate tests)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FittedModel:
    booster: lgb.Booster
    calibrator: dict[str, Any]
    feature_names: tuple[str, ...]
    shap_reference: float
    params: TrainParams
    n_fit: int
    n_calibration: int
    best_iteration: int
    calibration_index: np.ndarray
    """Rows of the training input held out for calibration: the honest in-time validation set."""

    def raw_score(self, X: np.ndarray) -> np.ndarray:
        return self.booster.predict(X, raw_score=True, num_threads=1 if len(X) < 200_000 else 0)

    def predict_pd(self, X: np.ndarray) -> np.ndarray:
        a, b = self.calibrator["a"], self.calibrator["b"]
        return 1.0 / (1.0 + np.exp(-(a * self.raw_score(X) + b)))

    def model_text(self) -> str:
        return self.booster.model_to_string()


def _oversample(X: np.ndarray, y: np.ndarray, factor: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if factor == 1.0:
        return X, y
    bad = np.flatnonzero(y == 1)
    extra = rng.choice(bad, size=round(len(bad) * (factor - 1.0)), replace=True)
    idx = np.concatenate([np.arange(len(y)), extra])
    return X[idx], y[idx]


def fit_model(
    X: np.ndarray, y: np.ndarray, feature_names: Sequence[str], params: TrainParams | None = None
) -> FittedModel:
    """Fit LightGBM on a random (1 - calibration_share) split, Platt-calibrate on the rest."""
    params = params or TrainParams()
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[1] != len(feature_names):
        raise TrainingError(f"X {X.shape}, y {y.shape} and {len(feature_names)} feature names do not fit")
    if len(np.unique(y)) != 2:
        raise TrainingError("training data needs both good and bad outcomes")
    if X.shape[0] < 200:
        raise TrainingError(f"only {X.shape[0]} training rows; need at least 200")
    rng = np.random.default_rng(params.seed)
    perm = rng.permutation(X.shape[0])
    n_cal = int(X.shape[0] * params.calibration_share)
    cal, fit = perm[:n_cal], perm[n_cal:]
    Xf, yf = _oversample(X[fit], y[fit], params.oversample_bads, rng)
    Xc, yc = _oversample(X[cal], y[cal], params.oversample_bads, rng)
    names = list(feature_names)
    lgb_params = {
        "objective": "binary",
        "learning_rate": params.learning_rate,
        "num_leaves": params.num_leaves,
        "max_depth": params.max_depth,
        "min_child_samples": params.min_child_samples,
        "feature_fraction": params.feature_fraction,
        "bagging_fraction": params.bagging_fraction,
        "bagging_freq": 1,
        "lambda_l2": params.lambda_l2,
        "monotone_constraints": [MONOTONE.get(f, 0) for f in names],
        "monotone_constraints_method": "intermediate",
        "seed": params.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": params.num_threads or (1 if len(yf) < 200_000 else 2),
        "verbosity": -1,
    }
    dfit = lgb.Dataset(Xf, yf, feature_name=names, free_raw_data=True)
    dcal = lgb.Dataset(Xc, yc, feature_name=names, reference=dfit)
    booster = lgb.train(
        lgb_params,
        dfit,
        num_boost_round=params.num_trees,
        valid_sets=[dcal],
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
    )
    best = booster.best_iteration or params.num_trees
    # Freeze to the best iteration so the saved text, predict and pred_contrib all use the same trees.
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    margin = booster.predict(Xc, raw_score=True, num_threads=1)
    lr = LogisticRegression(C=1e6, max_iter=1000)
    lr.fit(margin.reshape(-1, 1), yc)
    calibrator = {"method": "platt", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}
    shap_reference = float(booster.predict(X[:1], pred_contrib=True, num_threads=1)[0, -1])
    return FittedModel(booster, calibrator, tuple(names), shap_reference, params, len(yf), len(yc), best, np.sort(cal))


def choose_thresholds(
    pd: np.ndarray, approve_rate: float, refer_rate: float, eligible: np.ndarray | None = None
) -> Thresholds:
    """Cut-offs on ``pd`` so that ``approve_rate`` of all rows are approved and ``refer_rate`` referred.

    ``eligible`` marks rows that a hard rule does not already decline/refer: the approve band is then cut among
    them so that the share of ALL rows ending approved is ``approve_rate`` (capped at what the rules allow).
    Cut-offs sit half-way between neighbouring PDs, so a re-score of the same rows reproduces the rates exactly.
    """
    pd = np.asarray(pd, dtype=np.float64)
    if not (0 < approve_rate < 1 and 0 <= refer_rate < 1 and approve_rate + refer_rate < 1):
        raise ValueError(f"rates must be in (0, 1) and sum below 1, got {approve_rate}, {refer_rate}")
    n = pd.shape[0]
    if n == 0:
        raise ValueError("no scores to choose thresholds from")
    pool = np.sort(pd if eligible is None else pd[np.asarray(eligible, dtype=bool)])
    if pool.size == 0:
        pool = np.sort(pd)

    def cut(count: float) -> float:
        k = round(min(count, pool.size))
        if k <= 0:
            return float(pool[0]) * 0.5
        if k >= pool.size:
            return float(min(1.0, pool[-1] + 1e-9))
        return float((pool[k - 1] + pool[k]) / 2.0)

    approve_below = cut(approve_rate * n)
    # The refer band is refer_rate of the rows the rules leave to the model (without rules: of all rows), so hard
    # rules that decline half the traffic cannot stretch the refer band up to the riskiest scores.
    refer_below = max(approve_below, cut(approve_rate * n + refer_rate * pool.size))
    return Thresholds(approve_below, refer_below)


def make_artifact(
    fitted: FittedModel,
    lender_id: str,
    thresholds: Thresholds,
    *,
    training_window: Mapping[str, Any],
    metrics: Mapping[str, Any] | None = None,
    extra_metadata: Mapping[str, Any] | None = None,
    extra_files: Mapping[str, str] | None = None,
    catalogue_path: Path | None = None,
) -> tuple[ModelArtifact, dict[str, Any]]:
    """Package a fitted model for :meth:`ModelRegistry.register` with the current reason catalogue frozen in."""
    catalogue_text = Path(catalogue_path or CATALOGUE_PATH).read_text()
    catalogue = load_catalogue(text=catalogue_text)
    catalogue.mapper(fitted.feature_names)  # fail now, not at serving time, if a feature has no reason
    artifact = ModelArtifact(fitted.model_text(), fitted.calibrator, catalogue_text, dict(extra_files or {}))
    metadata: dict[str, Any] = {
        "lender_id": lender_id,
        "feature_names": list(fitted.feature_names),
        "feature_set_version": FEATURE_SET_VERSION,
        "training_window": dict(training_window),
        "metrics": dict(metrics or {}),
        "thresholds": thresholds.to_dict(),
        "shap_reference": {
            "expected_raw_score": fitted.shap_reference,
            "method": "TreeSHAP (LightGBM pred_contrib, path-dependent) vs the training population",
        },
        "reason_catalogue_version": catalogue.version,
        "calibration": fitted.calibrator["method"],
        "params": fitted.params.to_dict(),
        "n_fit": fitted.n_fit,
        "n_calibration": fitted.n_calibration,
        "num_trees": fitted.best_iteration,
        "lightgbm_version": lgb.__version__,
    }
    metadata.update(extra_metadata or {})
    return artifact, metadata
