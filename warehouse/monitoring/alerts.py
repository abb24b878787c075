"""Alerts: thresholds from monitoring.yaml applied to drift_metrics rows, de-duplicated, delivered once.

De-duplication. ``alert_id`` is a hash of (date, metric, feature, partner, lender), so the same condition on the same
day always has the same id. Re-running a day replaces that day's alerts (keeping the original ``raised_at``) and only
ids that were not there before are *delivered*: a re-run or a backfill never pages anyone twice.

Delivery. Every new alert is logged as one JSON line on the ``warehouse.monitoring.alerts`` logger; if a webhook URL is
configured, new alerts are POSTed in batches as ``{"alerts": [...]}``. A failing webhook is logged and never fails
the job: the alerts are already safe in the warehouse.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence

import httpx
import numpy as np
import pandas as pd
from duckdb import DuckDBPyConnection

from warehouse.monitoring.config import MonitoringConfig
from warehouse.monitoring.settings import MonitoringSettings

log = logging.getLogger("warehouse.monitoring.alerts")
SEVERITIES = ("watch", "alert", "critical")
ALERT_COLUMNS = ["alert_id", "raised_at", "metric_date", "severity", "metric", "feature", "partner_id", "lender_id",
                 "value", "threshold", "message", "status"]
WEBHOOK_BATCH = 200


def alert_id(metric_date: dt.date | str, metric: str, feature: str | None, partner_id: str | None,
             lender_id: str | None) -> str:
    """Stable identifier of an alert condition (same inputs, same id, across runs and machines)."""
    key = "|".join(str(x) if x is not None else "" for x in (str(metric_date)[:10], metric, feature, partner_id,
                                                           lender_id))
    return "al-" + hashlib.sha256(key.encode()).hexdigest()[:20]


def _none(x: object) -> object:
    return None if x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NA else x


def evaluate(metrics: pd.DataFrame, cfg: MonitoringConfig, settings: MonitoringSettings) -> pd.DataFrame:
    """Alert rows for the metric rows that cross a threshold (vectorised per rule)."""
    out = []
    if metrics.empty:
        return pd.DataFrame(columns=ALERT_COLUMNS)
    for rule in cfg.alerts:
        m = metrics[metrics["metric"] == rule.metric]
        m = m[m["sample_size"] >= settings.min_rows_day]
        value = m["value"].astype(float)
        base = m["baseline_value"].astype(float)
        if rule.kind == "value":
            stat = value
        else:
            m = m[m["baseline_size"] >= settings.min_rows_baseline]
            value, base = value.loc[m.index], base.loc[m.index]
            stat = {"rise": value - base, "drop": base - value,
                    "ratio": value / base.where(base > 0)}[rule.kind]
        levels = [rule.watch, rule.alert] + ([rule.critical] if rule.critical is not None else [])
        level = np.zeros(len(stat), dtype=int)
        for i, threshold in enumerate(levels, start=1):
            level = np.where(stat.fillna(-np.inf).to_numpy() >= threshold, i, level)
        hit = level > 0
        if not hit.any():
            continue
        a = m[hit].copy()
        a["severity"] = [SEVERITIES[i - 1] for i in level[hit]]
        a["threshold"] = [levels[i - 1] for i in level[hit]]
        a["stat"] = stat[hit].to_numpy()
        a["kind"] = rule.kind
        out.append(a)
    if not out:
        return pd.DataFrame(columns=ALERT_COLUMNS)
    a = pd.concat(out, ignore_index=True)
    a["alert_id"] = [alert_id(*r) for r in zip(a["metric_date"], a["metric"], a["feature"], a["partner_id"],
                                               a["lender_id"], strict=True)]
    a["message"] = [_message(r) for r in a.itertuples()]
    a["status"] = "open"
    a["raised_at"] = pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None))
    return a[ALERT_COLUMNS]


def _message(r: object) -> str:
    what = f"{r.metric}" + (f" of {r.feature}" if _none(r.feature) else "")
    where = f"partner {_none(r.partner_id) or 'ALL'} / lender {_none(r.lender_id) or 'ALL'}"
    base = _none(r.baseline_value)
    vs = f" vs baseline {base:.4g}" if base is not None else ""
    scope = f" ({r.baseline_scope} baseline)" if _none(r.baseline_scope) == "all_partners" else ""
    return (f"{r.severity.upper()}: {what} for {where} on {str(r.metric_date)[:10]} is {r.value:.4g}{vs}{scope}; "
            f"{r.kind} test {r.stat:.4g} >= {r.threshold:g}")


def store(con: DuckDBPyConnection, alerts: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Replace the alerts of days ``start..end`` inside the caller's transaction; return the ones not seen before."""
    existing = dict(con.execute("SELECT alert_id, raised_at FROM alerts WHERE metric_date BETWEEN ? AND ?",
                                [start, end]).fetchall())
    con.execute("DELETE FROM alerts WHERE metric_date BETWEEN ? AND ?", [start, end])
    if alerts.empty:
        return alerts
    alerts = alerts.drop_duplicates("alert_id").copy()
    seen = alerts["alert_id"].isin(existing.keys())
    alerts.loc[seen, "raised_at"] = alerts.loc[seen, "alert_id"].map(existing)
    con.register("_monitoring_alerts", alerts)
    try:
        con.execute("INSERT INTO alerts BY NAME SELECT * FROM _monitoring_alerts")
    finally:
        con.unregister("_monitoring_alerts")
    return alerts[~seen]


def to_payload(alerts: pd.DataFrame) -> list[dict]:
    """JSON-ready dicts (dates as ISO strings, NaN as null)."""
    records = []
    for rec in alerts[ALERT_COLUMNS].to_dict("records"):
        clean = {k: _none(v) for k, v in rec.items()}
        for k in ("raised_at", "metric_date"):
            if clean[k] is not None:
                clean[k] = pd.Timestamp(clean[k]).isoformat()[: 10 if k == "metric_date" else None]
        records.append(clean)
    return records


def deliver(alerts: Sequence[dict], webhook_url: str | None, timeout_s: float = 5.0) -> int:
    """Log every alert as JSON and POST them to the webhook; return how many the webhook accepted."""
    for a in alerts:
        log.warning(json.dumps(a, sort_keys=True))
    if not webhook_url or not alerts:
        return 0
    accepted = 0
    for i in range(0, len(alerts), WEBHOOK_BATCH):
        batch = list(alerts[i : i + WEBHOOK_BATCH])
        try:
            response = httpx.post(webhook_url, json={"alerts": batch}, timeout=timeout_s)
            response.raise_for_status()
            accepted += len(batch)
        except httpx.HTTPError as exc:
            log.error(json.dumps({"event": "webhook_failed", "url": webhook_url, "alerts": len(batch),
                                  "error": f"{type(exc).__name__}: {exc}"}))
    return accepted
