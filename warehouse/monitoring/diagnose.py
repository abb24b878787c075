"""Root-cause diagnostics: why did a decision rate (approval rate, say) change between two windows?

The change is split exactly, in the order in which causes are likely in lending:

1. **Mix shift between partner channels** (shift-share decomposition over partners p, shares s, rates r):
   ``dR = sum(ds_p * r_b,p)  +  sum(s_b,p * dr_p)  +  sum(ds_p * dr_p)``  = mix + within + interaction.
   A new partner has no baseline rate; its baseline rate is taken as its current rate, so all of its effect is mix
   (and symmetrically for a partner that left). Per partner the mix term is reported centred,
   ``ds_p * (r_b,p - R_b)``, which sums to the same total (the shares' changes sum to zero) but no longer credits
   every growing partner with its whole rate.
2. The within-partner part (within + interaction = ``sum(s_c,p * dr_p)``, current-weighted) is explained by:
   * **threshold / policy / model-version changes**: per lender, the change in the decision *given the score*
     (current outcomes minus the baseline outcome rate for the same lender and score bin) - counted for lenders with a
     deployment in model_deployments or a changed model/policy version in the decisions;
   * **feature distribution shifts within stable partners**: for each key feature, the change the baseline
     relation "outcome given the feature's bin, per partner" predicts from the feature's new distribution alone.
     These are not additive (features correlate), so when together they overshoot what remains they are scaled down
     proportionally; the unscaled "alone" value stays in the evidence. Each shifted feature is then classified:
     a **bureau reporting change** (abrupt step shared by all stable partners at the date the bureau's
     report_format_version changed), a **feature defaulting to zero** (zero share jumps), an upstream field change
     (abrupt, all partners, no version change) or a genuine population shift.
3. Whatever remains is **unexplained**; only then is **model drift** examined, against realised outcomes
   (calibration of the score vs realised 30+ DPD on matured loans), and it is always listed last.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from duckdb import DuckDBPyConnection

from warehouse.monitoring.config import MonitoringConfig, default_config
from warehouse.monitoring.evidence import calibration, deployment_changes, field_change

METRICS: dict[str, str] = {
    "approval_rate": "d.decision = 'approve'",
    "refer_rate": "d.decision = 'refer'",
    "decline_rate": "d.decision = 'decline'",
    "fallback_rate": "d.fallback_used",
}
KEY_FEATURES = ("bureau_score", "dpd30_count_12m", "dpd90_count_12m", "enquiries_90d", "utilisation_pct",
                "loan_to_income", "emi_to_income")
MIN_PARTNER_ROWS = 30
"""A partner needs this many decisions in BOTH windows to count as stable (else it is entering or leaving)."""


MIN_FEATURE_PSI = 0.02
"""A gradual feature shift counts as a cause only when the windows' PSI (stable partners) reaches this."""


class UnknownMetricError(ValueError):
    """The metric is not one the diagnostic can decompose."""


class EmptyWindowError(LookupError):
    """A window holds no decisions."""


@dataclass(frozen=True)
class Window:
    """Inclusive date range."""

    start: dt.date
    end: dt.date

    @classmethod
    def parse(cls, text: str) -> Window:
        """``YYYY-MM-DD:YYYY-MM-DD`` (inclusive); raises ValueError with the offending text."""
        try:
            a, b = text.split(":")
            window = cls(dt.date.fromisoformat(a.strip()), dt.date.fromisoformat(b.strip()))
        except ValueError as exc:
            raise ValueError(f"window {text!r} must look like 2026-10-01:2026-10-21") from exc
        if window.end < window.start:
            raise ValueError(f"window {text!r} ends before it starts")
        return window

    def sql(self, column: str = "d.decided_at") -> str:
        return f"({column} >= DATE '{self.start}' AND {column} < DATE '{self.end + dt.timedelta(days=1)}')"

    def __str__(self) -> str:
        return f"{self.start}:{self.end}"


@dataclass
class Cause:
    """One explained part of the change."""

    kind: str
    title: str
    contribution: float
    """Rate points of the change attributed to this cause (same sign as the change when it drives it)."""
    share_of_change: float
    explanation: str
    evidence: dict[str, Any] = field(default_factory=dict)
    partner_id: str | None = None
    lender_id: str | None = None
    feature: str | None = None
    rank: int = 0


@dataclass
class Diagnosis:
    metric: str
    baseline: str
    current: str
    baseline_value: float
    current_value: float
    change: float
    decomposition: dict[str, float]
    causes: list[Cause]
    partners: list[dict[str, Any]]
    features: list[dict[str, Any]]
    daily: list[dict[str, Any]]
    calibration: dict[str, Any]

    @property
    def top(self) -> Cause:
        return self.causes[0]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_json_default)


def _json_default(x: object) -> object:
    if isinstance(x, dt.date | dt.datetime | pd.Timestamp):
        return x.isoformat()
    if isinstance(x, np.generic):
        return x.item()
    return str(x)


def _partner_table(con: DuckDBPyConnection, y: str, base: Window, cur: Window) -> pd.DataFrame:
    df = con.execute(f"""
        SELECT CASE WHEN {base.sql()} THEN 'b' ELSE 'c' END AS w, d.partner_id,
               any_value(p.name) AS name, any_value(p.channel_type) AS channel_type,
               count(*) AS n, count(*) FILTER (WHERE {y}) AS k
        FROM decisions d LEFT JOIN partners p USING (partner_id)
        WHERE {base.sql()} OR {cur.sql()} GROUP BY ALL""").df()
    t = df.pivot_table(index="partner_id", columns="w", values=["n", "k"], aggfunc="sum", fill_value=0)
    t.columns = [f"{a}_{b}" for a, b in t.columns]
    for c in ("n_b", "n_c", "k_b", "k_c"):
        if c not in t:
            t[c] = 0
    names = df.drop_duplicates("partner_id").set_index("partner_id")[["name", "channel_type"]]
    t = t.join(names)
    if t["n_b"].sum() == 0 or t["n_c"].sum() == 0:
        raise EmptyWindowError("one of the windows has no decisions")
    t["s_b"], t["s_c"] = t["n_b"] / t["n_b"].sum(), t["n_c"] / t["n_c"].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        t["r_b"], t["r_c"] = t["k_b"] / t["n_b"], t["k_c"] / t["n_c"]
    t["status"] = np.where(t["n_b"] < MIN_PARTNER_ROWS, "new", np.where(t["n_c"] < MIN_PARTNER_ROWS, "left", "stable"))
    t["r_b"] = t["r_b"].where(t["status"] != "new", t["r_c"]).fillna(0.0)
    t["r_c"] = t["r_c"].where(t["status"] != "left", t["r_b"]).fillna(0.0)
    R_b = t["k_b"].sum() / t["n_b"].sum()
    t["ds"], t["dr"] = t["s_c"] - t["s_b"], t["r_c"] - t["r_b"]
    t["mix"] = t["ds"] * (t["r_b"] - R_b)
    t["within"] = t["s_b"] * t["dr"]
    t["interaction"] = t["ds"] * t["dr"]
    return t.reset_index()


def _policy_terms(con: DuckDBPyConnection, y: str, base: Window, cur: Window, stable: list[str],
                  cfg: MonitoringConfig, n_cur: int) -> pd.DataFrame:
    """Per lender: change in outcome given the same score bin (stable partners), in rate points of the total."""
    spec = cfg.variables["score"]
    bins = f"least(greatest(floor((d.score - {spec.lo}) / {spec.width}), 0), {spec.bins - 1})::INTEGER"
    df = con.execute(f"""
        SELECT CASE WHEN {base.sql()} THEN 'b' ELSE 'c' END AS w, d.lender_id, {bins} AS b,
               count(*) AS n, count(*) FILTER (WHERE {y}) AS k
        FROM decisions d WHERE ({base.sql()} OR {cur.sql()}) AND d.partner_id IN ?
        GROUP BY ALL""", [stable]).df()
    b = df[df["w"] == "b"].set_index(["lender_id", "b"])
    c = df[df["w"] == "c"].set_index(["lender_id", "b"])
    p_b = (b["k"] / b["n"]).reindex(c.index)
    p_b = p_b.fillna(c["k"] / c["n"])  # a score bin the baseline never saw contributes nothing
    term = (c["k"] - c["n"] * p_b).groupby(level="lender_id").sum() / n_cur
    return term.rename("policy").reset_index()


def _feature_terms(con: DuckDBPyConnection, y: str, base: Window, cur: Window, stable: list[str],
                   cfg: MonitoringConfig, r_b: pd.Series, n_cur: int) -> dict[str, float]:
    """Per feature: change predicted from its distribution alone (baseline outcome given bin, per partner)."""
    out = {}
    for f in KEY_FEATURES:
        if f not in cfg.variables:
            continue
        spec, expr = cfg.variables[f], cfg.sql_expr(f)
        df = con.execute(f"""
            SELECT CASE WHEN {base.sql()} THEN 'b' ELSE 'c' END AS w, d.partner_id,
                   CASE WHEN {expr} IS NULL OR isnan({expr}) THEN -1 ELSE
                     least(greatest(floor(({expr} - {spec.lo}) / {spec.width}), 0), {spec.bins - 1})::INTEGER END AS b,
                   count(*) AS n, count(*) FILTER (WHERE {y}) AS k
            FROM decisions d WHERE ({base.sql()} OR {cur.sql()}) AND d.partner_id IN ? GROUP BY ALL""",
                          [stable]).df()
        b = df[df["w"] == "b"].set_index(["partner_id", "b"])
        c = df[df["w"] == "c"].set_index(["partner_id", "b"])
        rb = c.index.get_level_values("partner_id").map(r_b).to_numpy()
        p_b = (b["k"] / b["n"]).reindex(c.index).to_numpy()
        p_b = np.where(np.isnan(p_b), rb, p_b)  # unseen bin: no information, no contribution
        out[f] = float((c["n"].to_numpy() * (p_b - rb)).sum() / n_cur)
    return out


def diagnose(con: DuckDBPyConnection, metric: str, baseline: Window | str, current: Window | str,
             cfg: MonitoringConfig | None = None) -> Diagnosis:
    """Decompose the change of ``metric`` from ``baseline`` to ``current`` into ranked, explained causes."""
    if metric not in METRICS:
        raise UnknownMetricError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    cfg = cfg or default_config()
    base = baseline if isinstance(baseline, Window) else Window.parse(baseline)
    cur = current if isinstance(current, Window) else Window.parse(current)
    y = METRICS[metric]
    t = _partner_table(con, y, base, cur)
    R_b, R_c = t["k_b"].sum() / t["n_b"].sum(), t["k_c"].sum() / t["n_c"].sum()
    change = R_c - R_b
    mix, within, inter = t["mix"].sum(), t["within"].sum(), t["interaction"].sum()
    stable_t = t[t["status"] == "stable"]
    stable = stable_t["partner_id"].tolist()
    n_cur = int(t["n_c"].sum())
    causes: list[Cause] = []

    def share(x: float) -> float:
        return float(x / change) if abs(change) > 1e-12 else 0.0

    top = t.iloc[(t["mix"] * np.sign(mix or 1)).argmax()]
    rest = t[t["partner_id"] != top["partner_id"]]
    rest_rate = rest["k_c"].sum() / max(rest["n_c"].sum(), 1)
    causes.append(Cause(
        "mix_shift", f"Partner mix shift, led by {top['partner_id']} ({top['name']}, {top['channel_type']}, "
        f"{top['status']})", float(mix), share(mix),
        f"{top['partner_id']} went from {top['s_b']:.1%} to {top['s_c']:.1%} of decisions with {metric} at "
        f"{top['r_c']:.1%} against {rest_rate:.1%} for the other partners; on its own it moves the rate by "
        f"{top['mix'] * 100:+.2f} points ({share(top['mix']):.0%} of the change).",
        {"partner_contributions": {r.partner_id: round(float(r.mix), 6) for r in t.itertuples()},
         "top_partner_contribution": float(top["mix"]), "top_partner_share_of_change": share(top["mix"])},
        partner_id=str(top["partner_id"])))

    pool = within + inter
    if stable:
        policy = _policy_terms(con, y, base, cur, stable, cfg, n_cur)
        deployments = deployment_changes(con, base, cur)
        for row in policy.itertuples():
            ev = deployments.get(row.lender_id)
            if not ev:
                continue
            pool -= row.policy
            kind = "model_version_change" if ev.get("model_versions_changed") else "threshold_policy_change"
            causes.append(Cause(
                kind, f"{'Model version' if kind == 'model_version_change' else 'Threshold/policy'} change for "
                f"lender {row.lender_id}", float(row.policy), share(row.policy),
                f"For the same score, lender {row.lender_id}'s {metric} moved by {row.policy * 100:+.2f} points of the "
                f"total; the deployment history shows: {ev['summary']}.", ev, lender_id=row.lender_id))
        alone = _feature_terms(con, y, base, cur, stable, cfg, stable_t.set_index("partner_id")["r_b"], n_cur)
    else:
        alone = {}
    same = {f: v for f, v in alone.items() if np.sign(v) == np.sign(pool) and abs(v) > 0}
    total_same = sum(same.values())
    scale = min(1.0, pool / total_same) if total_same else 0.0
    features = []
    for f, v in sorted(alone.items(), key=lambda kv: -abs(kv[1])):
        contribution = v * scale if f in same else 0.0
        info = field_change(con, f, cfg, base, cur, stable)
        features.append({"feature": f, "alone": v, "contribution": contribution, **info})
        if abs(contribution) < max(0.002, 0.05 * abs(change)):
            continue
        if info["kind"] == "feature_shift" and info["evidence"]["window_psi"] < MIN_FEATURE_PSI:
            continue  # a population shift too small to measure is noise, not a cause: it stays in the remainder
        causes.append(Cause(info["kind"], info["title"], contribution, share(contribution), info["explanation"],
                            {"alone": v, **info["evidence"]}, feature=f))
    explained = sum(c.contribution for c in causes if c.kind != "mix_shift")
    residual = (within + inter) - explained
    calib = calibration(con, base, cur)
    drift = calib.get("drift_detected", False)
    causes.sort(key=lambda c: -abs(c.contribution))
    causes.append(Cause(
        "model_drift" if drift else "unexplained",
        "Model drift against realised outcomes" if drift else "Unexplained remainder (model drift not established)",
        float(residual), share(residual),
        calib["summary"] + (" The remainder is attributed to model drift." if drift else
                            " Retraining is not indicated by this evidence."), calib))
    for i, c in enumerate(causes, start=1):
        c.rank = i
    daily = con.execute(f"""
        SELECT CAST(d.decided_at AS DATE) AS day, d.partner_id, count(*) AS n,
               avg(CASE WHEN {y} THEN 1.0 ELSE 0.0 END) AS rate
        FROM decisions d WHERE d.decided_at >= DATE '{min(base.start, cur.start)}'
          AND d.decided_at < DATE '{max(base.end, cur.end) + dt.timedelta(days=1)}'
        GROUP BY ALL ORDER BY 1, 2""").df()
    daily["day"] = daily["day"].astype(str)
    return Diagnosis(
        metric, str(base), str(cur), float(R_b), float(R_c), float(change),
        {"mix": float(mix), "within": float(within), "interaction": float(inter),
         "within_current_weighted": float(within + inter), "check_sum": float(mix + within + inter)},
        causes,
        t[["partner_id", "name", "channel_type", "status", "n_b", "n_c", "s_b", "s_c", "r_b", "r_c", "mix",
           "within", "interaction"]].to_dict("records"),
        features, daily.to_dict("records"), calib)
