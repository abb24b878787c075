"""Read helpers for the dashboard (the UI imports these; they only read, so the replica is enough).

``None`` for a partner or lender means the "all partners" / "all lenders" row, exactly as drift_metrics stores it.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from duckdb import DuckDBPyConnection

from warehouse.monitoring.alerts import SEVERITIES


def _eq(column: str, value: str | None) -> tuple[str, list]:
    return (f"{column} IS NULL", []) if value is None else (f"{column} = ?", [value])


def metric_series(con: DuckDBPyConnection, metric: str, feature: str | None = None, partner_id: str | None = None,
                  lender_id: str | None = None) -> pd.DataFrame:
    """Daily ``value`` and ``baseline_value`` of one metric for one segment, oldest first."""
    clauses, params = ["metric = ?"], [metric]
    for column, value in (("feature", feature), ("partner_id", partner_id), ("lender_id", lender_id)):
        sql, p = _eq(column, value)
        clauses.append(sql)
        params += p
    return con.execute(f"""SELECT metric_date, value, baseline_value, sample_size, baseline_scope FROM drift_metrics
        WHERE {' AND '.join(clauses)} ORDER BY metric_date""", params).df()


def recent_alerts(con: DuckDBPyConnection, since: dt.date | None = None, min_severity: str = "watch",
                  limit: int = 200) -> pd.DataFrame:
    """Open alerts at or above ``min_severity`` (watch < alert < critical), most severe and newest first."""
    if min_severity not in SEVERITIES:
        raise ValueError(f"min_severity must be one of {', '.join(SEVERITIES)}, got {min_severity!r}")
    allowed = list(SEVERITIES[SEVERITIES.index(min_severity):])
    return con.execute("""
        SELECT * FROM alerts WHERE status = 'open' AND severity IN (SELECT unnest(?::VARCHAR[]))
          AND metric_date >= coalesce(?::DATE, DATE '1900-01-01')
        ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'alert' THEN 1 ELSE 2 END, metric_date DESC, alert_id
        LIMIT ?""", [allowed, since, limit]).df()
