"""Validation report of one model: discrimination, calibration, deciles and SHAP importance, as JSON and HTML.

Why these: AUC/Gini/KS say whether the model ranks risk; the calibration curve says whether its PDs can be used as
probabilities (thresholds, pricing and the gate all assume they can); score deciles are what the deployment gate
compares; mean |SHAP| shows what drives the score, and the check that DPD history and enquiry velocity rank in the
top five catches a model that learnt something other than credit behaviour.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve

from decision_service.training.model import FittedModel

DPD_FEATURES = ("dpd30_count_12m", "dpd90_count_12m")
ENQUIRY_FEATURES = ("enquiries_90d",)
SHAP_SAMPLE = 5000


def discrimination(y: np.ndarray, pd: np.ndarray) -> dict[str, float]:
    auc = float(roc_auc_score(y, pd))
    fpr, tpr, _ = roc_curve(y, pd)
    return {
        "auc": auc,
        "gini": 2 * auc - 1,
        "ks": float(np.max(tpr - fpr)),
        "brier": float(brier_score_loss(y, pd)),
        "mean_pd": float(np.mean(pd)),
        "bad_rate": float(np.mean(y)),
        "n": len(y),
    }


def calibration(y: np.ndarray, pd: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    observed, predicted = calibration_curve(y, pd, n_bins=bins, strategy="quantile")
    return {"predicted": predicted.tolist(), "observed": observed.tolist()}


def score_deciles(pd: np.ndarray, y: np.ndarray | None = None) -> list[dict[str, float]]:
    """Ten equal-count groups by PD (1 = safest): count, PD range and mean, and the bad rate when labels exist."""
    order = np.argsort(pd, kind="stable")
    out = []
    for d, idx in enumerate(np.array_split(order, 10), start=1):
        row: dict[str, float] = {
            "decile": d, "n": int(idx.size), "min_pd": float(pd[idx].min()), "max_pd": float(pd[idx].max()),
            "mean_pd": float(pd[idx].mean()),
        }
        if y is not None:
            row["bad_rate"] = float(y[idx].mean())
        out.append(row)
    return out


def shap_importance(fitted: FittedModel, X: np.ndarray, seed: int = 0) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    take = rng.choice(X.shape[0], size=min(SHAP_SAMPLE, X.shape[0]), replace=False)
    contrib = fitted.booster.predict(X[take], pred_contrib=True, num_threads=1)[:, :-1]
    imp = np.abs(contrib).mean(axis=0)
    order = np.argsort(-imp, kind="stable")
    return [{"feature": fitted.feature_names[i], "mean_abs_shap": float(imp[i])} for i in order]


def driver_check(importance: Sequence[dict[str, float]], features: dict[str, np.ndarray]) -> dict[str, Any]:
    """Do DPD history and enquiry velocity rank in the top five? If not, say why (data-based explanation)."""
    top5 = [r["feature"] for r in importance[:5]]
    dpd_ok = any(f in top5 for f in DPD_FEATURES)
    enq_ok = any(f in top5 for f in ENQUIRY_FEATURES)
    notes = []
    for name, ok, feats in (("DPD history", dpd_ok, DPD_FEATURES), ("enquiry velocity", enq_ok, ENQUIRY_FEATURES)):
        if ok:
            continue
        rank = min(next(i for i, r in enumerate(importance) if r["feature"] == f) for f in feats) + 1
        nonzero = max(float(np.mean(np.nan_to_num(features[f]) > 0)) for f in feats)
        notes.append(
            f"{name} ranks {rank}: only {nonzero:.1%} of this lender's applicants have a non-zero value, and "
            f"{top5[0]} (ranked first) carries overlapping information, so its marginal SHAP share is smaller"
        )
    return {"top5": top5, "dpd_in_top5": dpd_ok, "enquiries_in_top5": enq_ok, "notes": notes}


def build_report(
    fitted: FittedModel,
    *,
    lender_id: str,
    dev: tuple[np.ndarray, np.ndarray],
    oot: tuple[np.ndarray, np.ndarray],
    oot_features: dict[str, np.ndarray],
    windows: dict[str, Any],
) -> dict[str, Any]:
    """The report dict (also the source of metadata metrics): in-time (development) and out-of-time results."""
    X_dev, y_dev = dev
    X_oot, y_oot = oot
    pd_dev, pd_oot = fitted.predict_pd(X_dev), fitted.predict_pd(X_oot)
    importance = shap_importance(fitted, X_oot if len(y_oot) else X_dev)
    return {
        "lender_id": lender_id,
        "windows": windows,
        "development": discrimination(y_dev, pd_dev),
        "out_of_time": discrimination(y_oot, pd_oot) if len(np.unique(y_oot)) == 2 else {"n": len(y_oot)},
        "calibration_oot": calibration(y_oot, pd_oot) if len(y_oot) else {},
        "calibration_dev": calibration(y_dev, pd_dev),
        "deciles_dev": score_deciles(pd_dev, y_dev),
        "deciles_oot": score_deciles(pd_oot, y_oot) if len(y_oot) >= 10 else [],
        "shap_importance": importance,
        "driver_check": driver_check(importance, oot_features),
        "calibrator": fitted.calibrator,
        "num_trees": fitted.best_iteration,
    }


def render_html(report: dict[str, Any], title: str) -> str:
    """Self-contained HTML (plotly.js inlined once: the machines are offline) with the three charts."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=(
        "Calibration (out-of-time)", "Bad rate by score decile", "Top features by mean |SHAP|"))
    cal = report["calibration_oot"] or report["calibration_dev"]
    fig.add_trace(go.Scatter(x=cal["predicted"], y=cal["observed"], mode="lines+markers", name="model"), 1, 1)
    lim = max([*cal["predicted"], *cal["observed"], 0.01])
    fig.add_trace(go.Scatter(x=[0, lim], y=[0, lim], mode="lines", name="perfect", line={"dash": "dot"}), 1, 1)
    dec = report["deciles_oot"] or report["deciles_dev"]
    fig.add_trace(go.Bar(x=[d["decile"] for d in dec], y=[d["bad_rate"] for d in dec], name="bad rate"), 1, 2)
    fig.add_trace(go.Scatter(x=[d["decile"] for d in dec], y=[d["mean_pd"] for d in dec], name="mean PD",
                             mode="lines+markers"), 1, 2)
    top = report["shap_importance"][:12][::-1]
    fig.add_trace(go.Bar(x=[r["mean_abs_shap"] for r in top], y=[r["feature"] for r in top], orientation="h",
                         name="mean |SHAP|"), 1, 3)
    fig.update_xaxes(title_text="predicted PD", row=1, col=1)
    fig.update_yaxes(title_text="observed bad rate", row=1, col=1)
    fig.update_xaxes(title_text="decile (1 = safest)", row=1, col=2)
    fig.update_layout(height=480, width=1500, title=title)
    oot, dev = report["out_of_time"], report["development"]
    rows = "".join(
        f"<tr><td>{k}</td><td>{dev.get(k, float('nan')):.4f}</td><td>{oot.get(k, float('nan')):.4f}</td></tr>"
        for k in ("auc", "gini", "ks", "brier", "mean_pd", "bad_rate")
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report["driver_check"]["notes"]) or "<li>none</li>"
    return (
        f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>Windows: {html.escape(json.dumps(report['windows']))}</p>"
        f"<table border=1><tr><th>metric</th><th>development</th><th>out-of-time</th></tr>{rows}</table>"
        f"<p>Top five drivers: {', '.join(report['driver_check']['top5'])}</p><ul>{notes}</ul>"
        + fig.to_html(full_html=False, include_plotlyjs=True)
        + "</body></html>"
    )
