"""Train, validate, register and (optionally) promote one lender's model from the warehouse.

Lenders differ by construction: each trains on the partners routed to it (``partner_lenders``), with its own
hyper-parameters (banks: shallower, more regularised trees; NBFCs: a little more capacity for thinner files) and
its own appetite (the approve/refer targets of its policy file). Initial thresholds are cut so that, on the
development window and after the policy's hard rules, the lender approves ``targets.approve_rate``
x a common scale of its applications (the scale pins the marketplace-wide approve share at
``OVERALL_APPROVE_TARGET``) and refers ``targets.refer_rate``; see docs/models.md for the numbers this produces.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from decision_service.features import FEATURE_NAMES
from decision_service.registry import ModelRegistry, Thresholds
from decision_service.training.data import Sample, Windows, count_applications, load_sample
from decision_service.training.model import TrainParams, choose_thresholds, fit_model, make_artifact
from decision_service.training.report import build_report, render_html, score_deciles

LENDER_PARAMS: dict[str, TrainParams] = {
    "bank": TrainParams(num_leaves=15, max_depth=5, learning_rate=0.06, min_child_samples=300, lambda_l2=2.0),
    "nbfc": TrainParams(num_leaves=23, max_depth=6, learning_rate=0.07, min_child_samples=150, lambda_l2=1.0),
}
DEFAULT_TARGETS = {"bank": (0.25, 0.10), "nbfc": (0.45, 0.12)}
"""(approve, refer) used only when a lender has no policy file."""

OVERALL_APPROVE_TARGET = 0.34
"""Marketplace-wide approve share the initial thresholds aim for on the development window (before the new partner);
each lender's policy approve target is scaled by one common factor to reach it (see ``solve_scale``)."""


@dataclass
class TrainResult:
    lender_id: str
    version: str
    metrics: dict[str, Any]
    thresholds: Thresholds
    dev_rates: dict[str, float]
    oot_rates: dict[str, float]
    promoted: bool
    n_train: int
    extra: dict[str, Any] = field(default_factory=dict)


def _policy(lender_id: str) -> Any | None:
    try:
        from decision_service.policy import load_policy
    except ImportError:  # the policy package is optional for training
        return None
    try:
        return load_policy(lender_id)
    except Exception:
        return None


def decision_rates(policy: Any | None, pd: np.ndarray, features: dict[str, np.ndarray], th: Thresholds) -> dict:
    """Approve/refer/decline shares after the policy (or the model bands alone without a policy)."""
    bands = th.band(pd) if policy is None else policy.decide(pd, features, th).decision
    return {k: float(np.mean(bands == k)) for k in ("approve", "refer", "decline")}


def approve_pool(policy: Any | None, pd: np.ndarray, feats: dict[str, np.ndarray]) -> np.ndarray | None:
    """Rows the hard rules let through when the model approves everything (None without a policy)."""
    if policy is None:
        return None
    return policy.decide(pd, feats, Thresholds(1.0, 1.0)).decision == "approve"


def lender_targets(policy: Any | None, lender_type: str) -> tuple[float, float]:
    if policy is not None:
        return float(policy.targets.approve_rate), float(policy.targets.refer_rate)
    return DEFAULT_TARGETS.get(lender_type, DEFAULT_TARGETS["nbfc"])


@dataclass
class LenderFit:
    """A fitted, validated model not yet registered: thresholds are chosen across all lenders first."""

    lender_id: str
    lender_type: str
    fitted: Any
    report: dict[str, Any]
    dev: Sample
    oot: Sample
    policy: Any | None
    pd_dev: np.ndarray
    pool: np.ndarray | None
    n_window: int
    win: Windows


def fit_lender(
    con: Any, lender_id: str, lender_type: str, win: Windows, *, max_train_rows: int = 250_000,
    max_oot_rows: int = 100_000, seed: int = 0, params: TrainParams | None = None,
) -> LenderFit:
    """Fit on the development window and validate out-of-time (nothing is registered yet)."""
    lender_seed = seed * 100 + int("".join(c for c in lender_id if c.isdigit()) or 0)
    params = params or replace(LENDER_PARAMS.get(lender_type, LENDER_PARAMS["nbfc"]), seed=lender_seed)
    dev = load_sample(con, lender_id, win.dev_start, win.dev_end, limit=max_train_rows, seed=lender_seed)
    oot = load_sample(con, lender_id, win.oot_start, win.oot_end, limit=max_oot_rows, seed=lender_seed)
    fitted = fit_model(dev.X, dev.y, FEATURE_NAMES, params)
    cal = fitted.calibration_index
    report = build_report(
        fitted, lender_id=lender_id, dev=(dev.X[cal], dev.y[cal]), oot=(oot.X, oot.y),
        oot_features=oot.features if len(oot) else dev.features, windows=win.to_dict(),
    )
    policy = _policy(lender_id)
    pd_dev = fitted.predict_pd(dev.X)
    return LenderFit(lender_id, lender_type, fitted, report, dev, oot, policy, pd_dev,
                     approve_pool(policy, pd_dev, dev.features),
                     count_applications(con, lender_id, win.dev_start, win.dev_end), win)


def thresholds_for(fit: LenderFit, scale: float) -> Thresholds:
    approve, refer = lender_targets(fit.policy, fit.lender_type)
    return choose_thresholds(fit.pd_dev, min(approve * scale, 0.95), refer, fit.pool)


def solve_scale(fits: list[LenderFit], overall_approve: float, iters: int = 30) -> float:
    """Common multiplier on every lender's approve target so the marketplace-wide approve share (decisions
    weighted by each lender's application count in the window) is ``overall_approve`` after the policies.
    One multiplier keeps the lenders' relative appetite exactly as their policy files state it."""
    def overall(scale: float) -> float:
        num = sum(f.n_window * decision_rates(f.policy, f.pd_dev, f.dev.features, thresholds_for(f, scale))["approve"]
                  for f in fits)
        return num / max(1, sum(f.n_window for f in fits))

    lo, hi = 0.05, 2.0
    for _ in range(iters):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if overall(mid) < overall_approve else (lo, mid)
    return (lo + hi) / 2


def register_lender(
    registry: ModelRegistry, fit: LenderFit, th: Thresholds, *, promote: bool = True, scale: float = 1.0
) -> TrainResult:
    """Register the fitted model with its thresholds and validation report; promote it when asked."""
    policy = fit.policy
    dev, oot, report = fit.dev, fit.oot, dict(fit.report)
    dev_rates = decision_rates(policy, fit.pd_dev, dev.features, th)
    oot_rates = decision_rates(policy, fit.fitted.predict_pd(oot.X), oot.features, th) if len(oot) else {}
    report["thresholds"] = {**th.to_dict(), "dev_rates": dev_rates, "oot_rates": oot_rates,
                            "policy_version": getattr(policy, "version", None), "approve_target_scale": scale}
    metrics = {
        "development": report["development"], "out_of_time": report["out_of_time"],
        "driver_check": report["driver_check"],
        "top_features": [r["feature"] for r in report["shap_importance"][:10]],
    }
    extra_meta = {
        "lender_type": fit.lender_type,
        "score_deciles": score_deciles(fit.pd_dev, dev.y),
        "decision_rates": {"development": dev_rates, "out_of_time": oot_rates},
        "targets_source": "policy" if policy is not None else "DEFAULT_TARGETS",
        "approve_target_scale": scale,
        "applications_in_dev_window": fit.n_window,
    }
    html_report = render_html(report, f"Lender {fit.lender_id} model validation")
    artifact, meta = make_artifact(
        fit.fitted, fit.lender_id, th, training_window=fit.win.to_dict(), metrics=metrics, extra_metadata=extra_meta,
        extra_files={"report.json": json.dumps(report, indent=1, default=float), "report.html": html_report},
    )
    version = registry.register(artifact, meta)
    if promote:
        registry.promote(fit.lender_id, version, policy_version=getattr(policy, "version", None))
    return TrainResult(fit.lender_id, version, metrics, th, dev_rates, oot_rates, promote, len(dev),
                       {"applications_in_dev_window": fit.n_window})
