"""Alert resolution: an open alert is resolved by the first later day its metric is back within every threshold.

The condition of an alert is its key (metric, feature, partner, lender); its ``alert_id`` adds the day. An alert of day
D is resolved on the first day after D on which the same key was judged by the alert rules (enough sample, a
baseline where the test needs one) and crossed none of them. Days the condition persists raise their own alerts,
which the same recovery day resolves too. Days without evidence (no decisions, too small a sample) leave it open.

Why it is derived, not toggled. The resolution is a pure function of the stored ``drift_metrics``: every run
re-derives it for the alerts it may affect (every open alert, every alert of the days being written, every alert
resolved on or after them), so re-running a day, or running days out of order, leaves the same state as running them
once in order. ``resolved_at`` (when the job recorded the resolution) is kept once set, and only alerts that go from
open to resolved in this run are returned for delivery: a re-run never sends a resolution twice. Should new
metrics for a recovery day show the condition again, the alert goes back to open (``resolved_on`` and
``resolved_at`` cleared) without an event.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from duckdb import DuckDBPyConnection

from warehouse.monitoring.alerts import ALERT_COLUMNS, KEY_COLUMNS, within_thresholds
from warehouse.monitoring.config import MonitoringConfig
from warehouse.monitoring.settings import MonitoringSettings

_METRIC_COLUMNS = ("metric_date, partner_id, channel_type, lender_id, metric, feature, value, baseline_value, "
                   "sample_size, baseline_size, baseline_scope")


def _key(frame: pd.DataFrame) -> pd.Series:
    """One string per alert condition (NULLs as empty strings) for the as-of join."""
    parts = [frame[c].astype(object).where(frame[c].notna(), "").astype(str) for c in KEY_COLUMNS]
    return parts[0].str.cat(parts[1:], sep="|")


def _day(values: pd.Series) -> pd.Series:
    return values.map(lambda x: "" if pd.isna(x) else str(x)[:10])


def resolve(con: DuckDBPyConnection, start: dt.date, cfg: MonitoringConfig, settings: MonitoringSettings,
            now: dt.datetime | None = None) -> pd.DataFrame:
    """Re-derive the resolution of the alerts a run of days ``start..`` may affect, inside the caller's transaction;
    return the alerts resolved by this call (open before, resolved now), with :data:`ALERT_COLUMNS`."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    candidates = con.execute(f"""
        SELECT {', '.join(ALERT_COLUMNS)} FROM alerts
        WHERE status IS DISTINCT FROM 'resolved' OR metric_date >= ? OR resolved_on >= ?""", [start, start]).df()
    if candidates.empty:
        return candidates
    first = candidates["metric_date"].min()
    metrics = con.execute(f"SELECT {_METRIC_COLUMNS} FROM drift_metrics WHERE metric_date > ? AND metric IN "
                          f"(SELECT unnest(?::VARCHAR[]))", [first, sorted({r.metric for r in cfg.alerts})]).df()
    clear = within_thresholds(metrics, cfg, settings)
    candidates["_key"] = _key(candidates)
    candidates["metric_date"] = pd.to_datetime(candidates["metric_date"])
    if len(clear):
        clear = pd.DataFrame({"_key": _key(clear), "_clear": pd.to_datetime(clear["metric_date"])})
        clear = clear[clear["_key"].isin(set(candidates["_key"]))].sort_values("_clear")
    ordered = candidates.sort_values("metric_date").reset_index(drop=True)
    if len(clear):
        merged = pd.merge_asof(ordered, clear, left_on="metric_date", right_on="_clear", by="_key",
                               direction="forward", allow_exact_matches=False)
        resolved_on = merged["_clear"]
    else:
        resolved_on = pd.Series(pd.NaT, index=ordered.index, dtype="datetime64[ns]")
    was_resolved = ordered["status"].eq("resolved")
    now_resolved = resolved_on.notna()
    new = ordered[["alert_id"]].copy()
    new["status"] = now_resolved.map({True: "resolved", False: "open"})
    new["resolved_on"] = resolved_on.dt.date.where(now_resolved, None)
    keep = was_resolved & now_resolved
    new["resolved_at"] = pd.Series(
        [ordered["resolved_at"].iloc[i] if keep.iloc[i] else (now if now_resolved.iloc[i] else None)
         for i in range(len(ordered))], dtype="datetime64[us]")
    changed = (new["status"] != ordered["status"]) | (_day(new["resolved_on"]) != _day(ordered["resolved_on"]))
    if changed.any():
        con.register("_monitoring_resolution", new[changed.to_numpy()])
        try:
            con.execute("UPDATE alerts SET status = r.status, resolved_on = r.resolved_on, resolved_at = r.resolved_at "
                        "FROM _monitoring_resolution r WHERE alerts.alert_id = r.alert_id")
        finally:
            con.unregister("_monitoring_resolution")
    fresh = (~was_resolved & now_resolved).to_numpy()
    out = ordered.loc[fresh, ALERT_COLUMNS].copy()
    out["status"] = "resolved"
    out["resolved_on"] = new.loc[fresh, "resolved_on"].to_numpy()
    out["resolved_at"] = new.loc[fresh, "resolved_at"].to_numpy()
    return out.reset_index(drop=True)
