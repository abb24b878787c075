"""Alerts: thresholds from monitoring.yaml applied to drift_metrics rows, de-duplicated, delivered once.

De-duplication. ``alert_id`` is a hash of (date, metric, feature, partner, lender), so the same condition on the same
day always has the same id. Re-running a day replaces that day's alerts (keeping the original ``raised_at``) and only
ids that were not there before are *delivered*: a re-run or a backfill never pages anyone twice.

Resolution. An open alert is resolved by the first later day on which the same metric for the same segment is
evaluated again and within every threshold (warehouse/monitoring/resolution.py). A re-run keeps ``status``,
``resolved_on`` and ``resolved_at`` like it keeps ``raised_at``, so a resolution is delivered once.

Delivery. Every new alert (and every new resolution) is logged as one JSON line on the ``warehouse.monitoring.alerts``
logger; if a webhook URL is configured, they are POSTed in batches as ``{"event": "raised", "alerts": [...]}`` (or
``"resolved"``). A failing webhook is logged and never fails the job: the alerts are already safe in the warehouse.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Literal

import httpx
import numpy as np
import pandas as pd
from duckdb import DuckDBPyConnection

from warehouse.monitoring.config import AlertRule, MonitoringConfig
from warehouse.monitoring.settings import MonitoringSettings

log = logging.getLogger("warehouse.monitoring.alerts")
SEVERITIES = ("watch", "alert", "critical")
ALERT_COLUMNS = ["alert_id", "raised_at", "metric_date", "severity", "metric", "feature", "partner_id", "lender_id",
                 "value", "threshold", "message", "status", "resolved_on", "resolved_at"]
KEY_COLUMNS = ["metric", "feature", "partner_id", "lender_id"]
"""What identifies an alert condition across days (the alert id adds the date)."""
CARRIED = ["raised_at", "status", "resolved_on", "resolved_at"]
"""Kept from the stored row when a re-run replaces a day's alerts."""
WEBHOOK_BATCH = 200


def alert_id(metric_date: dt.date | str, metric: str, feature: str | None, partner_id: str | None,
             lender_id: str | None) -> str:
    """Stable identifier of an alert condition (same inputs, same id, across runs and machines)."""
    key = "|".join(str(x) if x is not None else "" for x in (str(metric_date)[:10], metric, feature, partner_id,
                                                           lender_id))
    return "al-" + hashlib.sha256(key.encode()).hexdigest()[:20]


def _none(x: object) -> object:
    return None if x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NA else x


def _rule_levels(metrics: pd.DataFrame, rule: AlertRule, settings: MonitoringSettings
                 ) -> tuple[pd.DataFrame, pd.Series, np.ndarray, list[float]]:
    """The metric rows ``rule`` can judge (enough sample, and baseline for baseline tests), their test statistic,
    the level crossed per row (0 = within every threshold) and the thresholds."""
    m = metrics[metrics["metric"] == rule.metric]
    m = m[m["sample_size"] >= settings.min_rows_day]
    value = m["value"].astype(float)
    base = m["baseline_value"].astype(float)
    if rule.kind == "value":
        stat = value
    else:
        m = m[(m["baseline_size"] >= settings.min_rows_baseline) & base.notna()]
        value, base = value.loc[m.index], base.loc[m.index]
        stat = {"rise": value - base, "drop": base - value, "ratio": value / base.where(base > 0)}[rule.kind]
    levels = [rule.watch, rule.alert] + ([rule.critical] if rule.critical is not None else [])
    level = np.zeros(len(stat), dtype=int)
    for i, threshold in enumerate(levels, start=1):
        level = np.where(stat.fillna(-np.inf).to_numpy() >= threshold, i, level)
    return m, stat, level, levels


def within_thresholds(metrics: pd.DataFrame, cfg: MonitoringConfig, settings: MonitoringSettings) -> pd.DataFrame:
    """Metric rows (date and :data:`KEY_COLUMNS`) that an alert rule judged and found within all its thresholds,
    under every rule of that metric: the evidence that resolves an open alert of the same key."""
    judged, crossed = [], []
    for rule in cfg.alerts:
        m, stat, level, _ = _rule_levels(metrics, rule, settings)
        ok = stat.notna().to_numpy()
        judged.append(m.loc[ok & (level == 0), ["metric_date", *KEY_COLUMNS]])
        crossed.append(m.loc[level > 0, ["metric_date", *KEY_COLUMNS]])
    columns = ["metric_date", *KEY_COLUMNS]
    if not judged:
        return pd.DataFrame(columns=columns)
    clear = pd.concat(judged, ignore_index=True)
    bad = pd.concat(crossed, ignore_index=True)
    if len(bad):
        hit = clear.merge(bad.drop_duplicates(), on=columns, how="left", indicator=True)["_merge"] == "both"
        clear = clear[~hit.to_numpy()]
    return clear.drop_duplicates().reset_index(drop=True)


def evaluate(metrics: pd.DataFrame, cfg: MonitoringConfig, settings: MonitoringSettings) -> pd.DataFrame:
    """Alert rows for the metric rows that cross a threshold (vectorised per rule)."""
    out = []
    if metrics.empty:
        return pd.DataFrame(columns=ALERT_COLUMNS)
    for rule in cfg.alerts:
        m, stat, level, levels = _rule_levels(metrics, rule, settings)
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
    a["resolved_on"] = pd.NaT
    a["resolved_at"] = pd.NaT
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
    """Replace the alerts of days ``start..end`` inside the caller's transaction; return the ones not seen before.

    An id seen before keeps its stored :data:`CARRIED` columns (when it was raised, whether and when it was resolved):
    :func:`warehouse.monitoring.resolution.resolve` then re-derives the resolution from the metrics.
    """
    carried = ", ".join(CARRIED)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _alerts_before AS SELECT alert_id, {carried} FROM alerts "
                "WHERE metric_date BETWEEN ? AND ?", [start, end])
    try:
        existing = {i for (i,) in con.execute("SELECT alert_id FROM _alerts_before").fetchall()}
        con.execute("DELETE FROM alerts WHERE metric_date BETWEEN ? AND ?", [start, end])
        if alerts.empty:
            return alerts
        alerts = alerts.drop_duplicates("alert_id")
        con.register("_monitoring_alerts", alerts)
        try:
            con.execute("INSERT INTO alerts BY NAME SELECT * FROM _monitoring_alerts")
        finally:
            con.unregister("_monitoring_alerts")
        con.execute(f"UPDATE alerts SET {', '.join(f'{c} = b.{c}' for c in CARRIED)} FROM _alerts_before b "
                    "WHERE alerts.alert_id = b.alert_id")
    finally:
        con.execute("DROP TABLE IF EXISTS _alerts_before")
    return alerts[~alerts["alert_id"].isin(existing)]


def to_payload(alerts: pd.DataFrame) -> list[dict]:
    """JSON-ready dicts (dates as ISO strings, NaN as null)."""
    records = []
    for rec in alerts[ALERT_COLUMNS].to_dict("records"):
        clean = {k: _none(v) for k, v in rec.items()}
        for k in ("raised_at", "metric_date", "resolved_on", "resolved_at"):
            if clean[k] is not None:
                clean[k] = pd.Timestamp(clean[k]).isoformat()[: 10 if k in ("metric_date", "resolved_on") else None]
        records.append(clean)
    return records


def deliver(alerts: Sequence[dict], webhook_url: str | None, timeout_s: float = 5.0,
            event: Literal["raised", "resolved"] = "raised") -> int:
    """Log every alert as JSON and POST them to the webhook as ``event``; return how many the webhook accepted."""
    for a in alerts:
        log.warning(json.dumps({"event": event, **a}, sort_keys=True))
    if not webhook_url or not alerts:
        return 0
    accepted = 0
    for i in range(0, len(alerts), WEBHOOK_BATCH):
        batch = list(alerts[i : i + WEBHOOK_BATCH])
        try:
            response = httpx.post(webhook_url, json={"event": event, "alerts": batch}, timeout=timeout_s)
            response.raise_for_status()
            accepted += len(batch)
        except httpx.HTTPError as exc:
            log.error(json.dumps({"event": "webhook_failed", "url": webhook_url, "alerts": len(batch), "kind": event,
                                  "error": f"{type(exc).__name__}: {exc}"}))
    return accepted
