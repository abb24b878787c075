"""Read-only queries behind the Monitoring page (plain functions over a DuckDB connection; the page caches them).

Rates and latency percentiles come straight from ``decisions`` (a GROUP BY over the replica, always current even
before the monitoring job has run); PSI and alerts come from the monitoring job's ``drift_metrics`` and ``alerts``.
All values are partner/lender aggregates: no applicant-level row leaves this module.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from ui.replica import connect_replica

Segment = str  # "partner" | "lender"
SEVERITY_ORDER = {"critical": 0, "alert": 1, "watch": 2}
BUILD_HINT = ("`make run` (or `python -m warehouse generate`), then `python -m decision_service backfill` and "
              "`python -m warehouse monitor --publish`")


@dataclass(frozen=True)
class WarehouseStatus:
    """What the replica holds, so each panel can say which command fills it instead of showing a blank chart."""

    replica: Path
    exists: bool
    decisions: int = 0
    drift_rows: int = 0
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    error: str | None = None

    @property
    def ready(self) -> bool:
        return self.exists and self.error is None and self.decisions > 0


def warehouse_status(replica: Path) -> WarehouseStatus:
    """Counts and the date range of decisions in ``replica`` (never raises: problems land in ``error``)."""
    if not replica.exists():
        return WarehouseStatus(replica, False)
    try:
        con = connect_replica(replica)
    except (duckdb.Error, OSError) as err:
        return WarehouseStatus(replica, True, error=f"{type(err).__name__}: {err}")
    try:
        n, first, last = con.execute("SELECT count(*), min(decided_at)::DATE, max(decided_at)::DATE "
                                     "FROM decisions").fetchone()
        drift = con.execute("SELECT count(*) FROM drift_metrics").fetchone()[0]
        return WarehouseStatus(replica, True, int(n), int(drift), first, last)
    except duckdb.Error as err:
        return WarehouseStatus(replica, True, error=f"{type(err).__name__}: {err}")
    finally:
        con.close()


def _segment_sql(segment: Segment) -> tuple[str, str]:
    if segment == "partner":
        return "coalesce(p.name, d.partner_id)", "LEFT JOIN partners p ON p.partner_id = d.partner_id"
    if segment == "lender":
        return "coalesce(l.name, d.lender_id)", "LEFT JOIN lenders l ON l.lender_id = d.lender_id"
    raise ValueError(f"segment must be 'partner' or 'lender', not {segment!r}")


def daily_rates(con: duckdb.DuckDBPyConnection, segment: Segment) -> pd.DataFrame:
    """Long frame ``day, segment, metric, value, decisions``: approval/refer/decline/fallback rate per day."""
    name, join = _segment_sql(segment)
    df = con.execute(f"""
        SELECT CAST(d.decided_at AS DATE) AS day, {name} AS segment, count(*) AS decisions,
               avg(CASE WHEN d.decision = 'approve' THEN 1.0 ELSE 0 END) AS approval_rate,
               avg(CASE WHEN d.decision = 'refer' THEN 1.0 ELSE 0 END) AS refer_rate,
               avg(CASE WHEN d.decision = 'decline' THEN 1.0 ELSE 0 END) AS decline_rate,
               avg(CASE WHEN d.fallback_used THEN 1.0 ELSE 0 END) AS fallback_rate
        FROM decisions d {join} GROUP BY ALL ORDER BY day, segment""").df()
    return df.melt(id_vars=["day", "segment", "decisions"], var_name="metric", value_name="value")


def latency_percentiles(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """``day, p50, p95, p99`` of decision latency (ms) over all lenders."""
    return con.execute("""
        SELECT CAST(decided_at AS DATE) AS day, quantile_cont(latency_ms, 0.5) AS p50,
               quantile_cont(latency_ms, 0.95) AS p95, quantile_cont(latency_ms, 0.99) AS p99, count(*) AS decisions
        FROM decisions GROUP BY ALL ORDER BY day""").df()


def psi_days(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """Days that have PSI values (newest first)."""
    rows = con.execute("SELECT DISTINCT metric_date FROM drift_metrics WHERE metric = 'psi' ORDER BY 1 DESC")
    return [r[0] for r in rows.fetchall()]


def psi_matrix(con: duckdb.DuckDBPyConnection, day: dt.date) -> pd.DataFrame:
    """PSI of each feature (rows) by partner (columns) on ``day``, over all lenders; NaN where not computed."""
    df = con.execute("""
        SELECT m.feature, coalesce(p.name, m.partner_id) AS partner, m.value
        FROM drift_metrics m LEFT JOIN partners p ON p.partner_id = m.partner_id
        WHERE m.metric = 'psi' AND m.metric_date = ? AND m.partner_id IS NOT NULL AND m.lender_id IS NULL""",
                     [day]).df()
    if df.empty:
        return pd.DataFrame()
    return df.pivot_table(index="feature", columns="partner", values="value", aggfunc="max").sort_index()


def open_alerts(con: duckdb.DuckDBPyConnection, limit: int = 500) -> pd.DataFrame:
    """The ``limit`` most severe open alerts, newest first within a severity."""
    return con.execute(f"""
        SELECT a.severity, a.metric_date, a.metric, a.feature, coalesce(p.name, a.partner_id) AS partner,
               coalesce(l.name, a.lender_id) AS lender, a.value, a.threshold, a.message, a.raised_at
        FROM alerts a LEFT JOIN partners p ON p.partner_id = a.partner_id
        LEFT JOIN lenders l ON l.lender_id = a.lender_id
        WHERE a.status = 'open'
        ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'alert' THEN 1 ELSE 2 END, a.metric_date DESC,
                 a.alert_id
        LIMIT {int(limit)}""").df()


def open_alert_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Number of open alerts per severity (all of them, not just the listed ones)."""
    rows = con.execute("SELECT severity, count(*) FROM alerts WHERE status = 'open' GROUP BY ALL").fetchall()
    return {sev: 0 for sev in SEVERITY_ORDER} | {str(s): int(n) for s, n in rows}


def default_windows(first: dt.date, last: dt.date) -> tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date]]:
    """Baseline = the earlier part, current = the last third of the history (both inclusive, non-overlapping)."""
    span = max((last - first).days, 1)
    cur_start = last - dt.timedelta(days=max(span // 3, 0))
    base_end = max(first, cur_start - dt.timedelta(days=1))
    return (first, base_end), (cur_start, last)
