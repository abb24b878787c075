"""Evidence collectors for the diagnostics: deployment history, bureau field reporting changes, calibration.

Kept apart from the decomposition so each kind of evidence can be read (and tested) on its own. Everything here is
aggregated in DuckDB; Python only sees per-day or per-window rows.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from duckdb import DuckDBPyConnection

from warehouse.monitoring.config import MonitoringConfig
from warehouse.monitoring.divergence import divergences

if TYPE_CHECKING:
    from warehouse.monitoring.diagnose import Window

ZERO_JUMP = 0.3
"""Zero share rising this much at a change point marks a field silently defaulting to zero."""
MISSING_JUMP = 0.2
ABRUPT = 0.5
"""A step is abrupt when the 3 days either side of the change point already show this fraction of the whole step."""
CONSISTENT = 0.75
"""...and shared when at least this fraction of stable partners step the same way by at least half as much."""
MIN_EFFECT = 0.15
"""...and material: a step of at least this many standard deviations of the feature (noise steps are not causes)."""
MIN_MATURED = 200
CALIBRATION_CHANGE = 0.5


def _thresholds(raw: object) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return {"raw": raw}
    return dict(raw) if isinstance(raw, dict) else {}


def deployment_changes(con: DuckDBPyConnection, base: Window, cur: Window) -> dict[str, dict[str, Any]]:
    """Per lender with a real change between the windows: what changed and when (empty dict = no change)."""
    dep = con.execute("""
        SELECT lender_id, model_version, deployed_at, thresholds, gate_result, role, policy_version
        FROM model_deployments WHERE role = 'champion' OR role IS NULL ORDER BY lender_id, deployed_at""").df()
    versions = con.execute(f"""
        SELECT d.lender_id, CASE WHEN {base.sql()} THEN 'b' ELSE 'c' END AS w,
               list(DISTINCT d.model_version ORDER BY d.model_version) AS models,
               list(DISTINCT d.policy_version ORDER BY d.policy_version) AS policies
        FROM decisions d WHERE {base.sql()} OR {cur.sql()} GROUP BY ALL""").df()
    start = pd.Timestamp(base.start)
    end = pd.Timestamp(cur.end + dt.timedelta(days=1))
    out: dict[str, dict[str, Any]] = {}
    for lender in sorted(set(dep["lender_id"]) | set(versions["lender_id"])):
        rows = dep[dep["lender_id"] == lender].reset_index(drop=True)
        changes = []
        for i in range(1, len(rows)):
            prev, now = rows.iloc[i - 1], rows.iloc[i]
            if not start < pd.Timestamp(now["deployed_at"]) < end:
                continue
            t_prev, t_now = _thresholds(prev["thresholds"]), _thresholds(now["thresholds"])
            diff = {k: [t_prev.get(k), t_now.get(k)] for k in sorted(set(t_prev) | set(t_now))
                    if t_prev.get(k) != t_now.get(k)}
            if diff or prev["model_version"] != now["model_version"] or prev["policy_version"] != now["policy_version"]:
                changes.append({"deployed_at": pd.Timestamp(now["deployed_at"]).isoformat(),
                                "model_version": [prev["model_version"], now["model_version"]],
                                "policy_version": [prev["policy_version"], now["policy_version"]],
                                "thresholds": diff, "gate_result": now["gate_result"]})
        v = versions[versions["lender_id"] == lender].set_index("w")
        seen = {w: (list(v.loc[w, "models"]), list(v.loc[w, "policies"])) for w in v.index}
        models_changed = "b" in seen and "c" in seen and seen["b"][0] != seen["c"][0]
        policies_changed = "b" in seen and "c" in seen and seen["b"][1] != seen["c"][1]
        if not changes and not models_changed and not policies_changed:
            continue
        parts = [f"deployment on {c['deployed_at'][:10]} ({c['gate_result']}): "
                 + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in c["thresholds"].items())
                 + (f" model {c['model_version'][0]} -> {c['model_version'][1]}"
                    if c["model_version"][0] != c["model_version"][1] else "")
                 for c in changes]
        if models_changed:
            parts.append(f"decisions scored by model versions {seen['b'][0]} then {seen['c'][0]}")
        if policies_changed:
            parts.append(f"policy versions {seen['b'][1]} then {seen['c'][1]}")
        out[lender] = {"summary": "; ".join(parts), "deployments": changes,
                       "model_versions_changed": bool(models_changed or any(
                           c["model_version"][0] != c["model_version"][1] for c in changes)),
                       "policy_versions_changed": bool(policies_changed)}
    return out


def _format_version_change(con: DuckDBPyConnection, base: Window, cur: Window) -> dict[str, Any] | None:
    df = con.execute(f"""
        SELECT CAST(pulled_at AS DATE) AS day, report_format_version AS v, count(*) AS n
        FROM bureau_reports b WHERE {base.sql('b.pulled_at')} OR {cur.sql('b.pulled_at')} GROUP BY ALL
        ORDER BY 1""").df()
    if df.empty:
        return None
    top = df.sort_values(["day", "n"], ascending=[True, False]).drop_duplicates("day")
    first = top["v"].iloc[0]
    after = top[top["v"] != first]
    if after.empty:
        return None
    return {"date": str(after["day"].iloc[0])[:10], "from": str(first), "to": str(after["v"].iloc[0])}


def field_change(con: DuckDBPyConnection, feature: str, cfg: MonitoringConfig, base: Window, cur: Window,
                 stable: list[str]) -> dict[str, Any]:
    """How a feature changed for the stable partners: window stats, change point, abruptness, classification."""
    expr = cfg.sql_expr(feature)
    lo = min(base.start, cur.start)
    hi = max(base.end, cur.end)
    span = f"d.decided_at >= DATE '{lo}' AND d.decided_at < DATE '{hi + dt.timedelta(days=1)}'"
    df = con.execute(f"""
        SELECT CAST(d.decided_at AS DATE) AS day, d.partner_id, count(*) AS n,
               count(*) FILTER (WHERE {expr} IS NOT NULL AND NOT isnan({expr})) AS nn,
               sum({expr}) FILTER (WHERE NOT isnan({expr})) AS total,
               sum({expr} * {expr}) FILTER (WHERE NOT isnan({expr})) AS total_sq,
               count(*) FILTER (WHERE {expr} = 0) AS zeros
        FROM decisions d WHERE {span} AND d.partner_id IN ? GROUP BY ALL ORDER BY 1""", [stable]).df()
    df[["total", "total_sq"]] = df[["total", "total_sq"]].fillna(0.0)
    pooled = df.groupby("day")[["n", "nn", "total", "total_sq", "zeros"]].sum()
    days = pooled.index.tolist()
    c = pooled.cumsum()
    whole = c.iloc[-1]

    def mean(tot: float, nn: float) -> float:
        return tot / nn if nn else float("nan")

    best, t_idx = 0.0, 1
    for i in range(1, len(days)):  # one pass over days (tens), not rows
        b, a = c.iloc[i - 1], whole - c.iloc[i - 1]
        if b["nn"] and a["nn"]:
            step = mean(a["total"], a["nn"]) - mean(b["total"], b["nn"])
            zstep = a["zeros"] / a["nn"] - b["zeros"] / b["nn"]
            score = (abs(step) / (abs(mean(whole["total"], whole["nn"])) + 1e-9) + abs(zstep)) * np.sqrt(
                b["nn"] * a["nn"] / whole["nn"])
            if score > best:
                best, t_idx = score, i
    change_day = days[t_idx] if len(days) > 1 else days[0]
    before, after = pooled.iloc[:t_idx].sum(), pooled.iloc[t_idx:].sum()
    step = mean(after["total"], after["nn"]) - mean(before["total"], before["nn"])
    near_b, near_a = pooled.iloc[max(t_idx - 3, 0):t_idx].sum(), pooled.iloc[t_idx:t_idx + 3].sum()
    local = mean(near_a["total"], near_a["nn"]) - mean(near_b["total"], near_b["nn"])
    var = whole["total_sq"] / whole["nn"] - mean(whole["total"], whole["nn"]) ** 2 if whole["nn"] else 0.0
    sd = float(np.sqrt(max(var, 0.0)))
    effect = abs(step) / sd if sd > 0 else 0.0
    abrupt = bool(np.isfinite(local) and effect >= MIN_EFFECT and abs(local) >= ABRUPT * abs(step))
    per = df.assign(after=df["day"] >= change_day).groupby(["partner_id", "after"])[["nn", "total"]].sum()
    per_mean = (per["total"] / per["nn"]).unstack()
    steps = (per_mean.get(True) - per_mean.get(False)).dropna() if per_mean.shape[1] == 2 else pd.Series(dtype=float)
    same = ((np.sign(steps) == np.sign(step)) & (steps.abs() >= 0.5 * abs(step))).mean() if len(steps) else 0.0
    consistent = bool(same >= CONSISTENT)
    zero_b = before["zeros"] / before["nn"] if before["nn"] else 0.0
    zero_a = after["zeros"] / after["nn"] if after["nn"] else 0.0
    miss_b = 1 - before["nn"] / before["n"] if before["n"] else 0.0
    miss_a = 1 - after["nn"] / after["n"] if after["n"] else 0.0
    fmt = _format_version_change(con, base, cur)
    fmt_match = bool(fmt and abs((dt.date.fromisoformat(fmt["date"]) - pd.Timestamp(change_day).date()).days) <= 2)
    psi = _window_psi(con, feature, cfg, base, cur, stable)
    evidence = {"change_date": str(change_day)[:10], "mean_before": mean(before["total"], before["nn"]),
                "mean_after": mean(after["total"], after["nn"]), "step": step, "step_in_sd": effect, "abrupt": abrupt,
                "share_of_partners_stepping": float(same), "zero_share_before": zero_b, "zero_share_after": zero_a,
                "missing_share_before": miss_b, "missing_share_after": miss_a, "window_psi": psi,
                "report_format_change": fmt}
    when = str(change_day)[:10]
    if zero_a - zero_b >= ZERO_JUMP:
        kind, title = "feature_zero_default", f"{feature} silently defaulting to zero from {when}"
        text = (f"From {when} {zero_a:.0%} of reported {feature} values are exactly zero (before: {zero_b:.0%}) "
                f"across {same:.0%} of stable partners: a feed or pipeline defaulting the field, not a population "
                f"change.")
    elif miss_a - miss_b >= MISSING_JUMP:
        kind, title = "feature_missing", f"{feature} going missing from {when}"
        text = f"{feature} is missing for {miss_a:.0%} of decisions from {when} (before: {miss_b:.0%})."
    elif fmt_match and abrupt and consistent:
        kind = "bureau_reporting_change"
        title = f"Bureau reporting change in {feature} from {fmt['date']} (format {fmt['from']} -> {fmt['to']})"
        text = (f"{feature} stepped from {evidence['mean_before']:.3g} to {evidence['mean_after']:.3g} on {when} for "
                f"{same:.0%} of stable partners at once, the day the bureau's report_format_version changed from "
                f"{fmt['from']} to {fmt['to']}: the same applicants are being reported differently.")
    elif abrupt and consistent:
        kind, title = "upstream_field_change", f"Abrupt upstream change in {feature} on {when}"
        text = (f"{feature} stepped from {evidence['mean_before']:.3g} to {evidence['mean_after']:.3g} on {when} for "
                f"{same:.0%} of stable partners at once, with no bureau format version change: check the feed and the "
                f"feature pipeline.")
    else:
        kind, title = "feature_shift", f"Distribution shift of {feature} within stable partners"
        text = (f"{feature} moved gradually (mean {evidence['mean_before']:.3g} -> {evidence['mean_after']:.3g}, "
                f"PSI {psi:.3f} between the windows): a population change within existing partners.")
    return {"kind": kind, "title": title, "explanation": text, "evidence": evidence}


def _window_psi(con: DuckDBPyConnection, feature: str, cfg: MonitoringConfig, base: Window, cur: Window,
                stable: list[str]) -> float:
    spec, expr = cfg.variables[feature], cfg.sql_expr(feature)
    df = con.execute(f"""
        SELECT CASE WHEN {base.sql()} THEN 0 ELSE 1 END AS w,
               CASE WHEN {expr} IS NULL OR isnan({expr}) THEN 0 ELSE
                 1 + least(greatest(floor(({expr} - {spec.lo}) / {spec.width}), 0), {spec.bins - 1})::INTEGER END AS b,
               count(*) AS n
        FROM decisions d WHERE ({base.sql()} OR {cur.sql()}) AND d.partner_id IN ? GROUP BY ALL""", [stable]).df()
    h = np.zeros((2, spec.bins + 1))
    np.add.at(h, (df["w"].to_numpy(), df["b"].to_numpy()), df["n"].to_numpy())
    return float(divergences(h[1], h[0], cfg.coarse_bins, cfg.epsilon)["psi"])


def calibration(con: DuckDBPyConnection, base: Window, cur: Window) -> dict[str, Any]:
    """Score vs realised 30+ DPD on loans whose first instalment fell due at least 30 days before the data ends."""
    df = con.execute(f"""
        WITH cutoff AS (SELECT max(due_on) FILTER (WHERE paid_on IS NOT NULL OR days_late > 0) AS d FROM repayments),
        l AS (
          SELECT CASE WHEN {base.sql()} THEN 'b' ELSE 'c' END AS w, d.score, min(r.due_on) AS first_due,
                 max(r.days_late) FILTER (WHERE r.due_on <= cutoff.d) AS worst, any_value(cutoff.d) AS as_of
          FROM loans lo JOIN decisions d ON lo.decision_id = d.decision_id JOIN repayments r USING (loan_id), cutoff
          WHERE {base.sql()} OR {cur.sql()} GROUP BY lo.loan_id, w, d.score)
        SELECT w, count(*) AS loans, count(*) FILTER (WHERE first_due + INTERVAL 30 DAY <= as_of) AS matured,
               avg(score) FILTER (WHERE first_due + INTERVAL 30 DAY <= as_of) AS mean_score,
               avg(CASE WHEN worst >= 30 THEN 1.0 ELSE 0.0 END) FILTER (WHERE first_due + INTERVAL 30 DAY <= as_of)
                 AS realised_dpd30
        FROM l GROUP BY w""").df()
    windows = {r.w: {"loans": int(r.loans), "matured": int(r.matured),
                     "mean_score": None if pd.isna(r.mean_score) else float(r.mean_score),
                     "realised_dpd30": None if pd.isna(r.realised_dpd30) else float(r.realised_dpd30)}
               for r in df.itertuples()}
    out: dict[str, Any] = {"baseline": windows.get("b"), "current": windows.get("c"), "drift_detected": False}
    ok = all(w and w["matured"] >= MIN_MATURED and w["mean_score"] for w in (out["baseline"], out["current"]))
    if not ok:
        counts = ", ".join(f"{k} {v['matured'] if v else 0}" for k, v in (("baseline", out["baseline"]),
                                                                            ("current", out["current"])))
        out["summary"] = (f"Not enough matured loans to test calibration against realised 30+ DPD "
                          f"(matured loans: {counts}; need {MIN_MATURED} in each window).")
        return out
    ratio = {k: out[k]["realised_dpd30"] / out[k]["mean_score"] for k in ("baseline", "current")}
    out["observed_to_predicted"] = ratio
    out["drift_detected"] = bool(abs(ratio["current"] / ratio["baseline"] - 1) > CALIBRATION_CHANGE)
    out["summary"] = (f"Realised 30+ DPD per unit of predicted PD: {ratio['baseline']:.2f} (baseline) vs "
                      f"{ratio['current']:.2f} (current)" + (" - calibration has moved." if out["drift_detected"]
                                                             else " - calibration is stable."))
    return out
