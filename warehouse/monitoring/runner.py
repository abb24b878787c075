"""Runs the monitoring job over one day or the whole world: compute, store, alert, deliver, summarise.

Each chunk of days is written in ONE transaction that first deletes those days' drift_metrics and alerts, inserts the
new rows and re-derives which alerts the stored metrics resolve, so running a day twice leaves exactly the same rows
(idempotent) and a crash mid-run leaves the previous state of those days intact.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from duckdb import DuckDBPyConnection
from tqdm import tqdm

from warehouse.monitoring import alerts as alerting
from warehouse.monitoring.config import MonitoringConfig, default_config
from warehouse.monitoring.job import compute_metrics, decision_date_range
from warehouse.monitoring.resolution import resolve
from warehouse.monitoring.settings import MonitoringSettings, get_settings


@dataclass
class MonitoringSummary:
    """What a run did: days covered, rows written, alerts (total and newly raised by severity), wall time."""

    start: dt.date
    end: dt.date
    metric_rows: int = 0
    alerts_total: int = 0
    alerts_new: int = 0
    new_by_severity: dict[str, int] = field(default_factory=dict)
    alerts_resolved: int = 0
    """Alerts that went from open to resolved in this run (each delivered once as a "resolved" event)."""
    webhook_accepted: int = 0
    seconds: float = 0.0

    def format(self) -> str:
        days = (self.end - self.start).days + 1
        sev = ", ".join(f"{k} {v}" for k, v in sorted(self.new_by_severity.items())) or "none"
        return (f"monitoring {self.start}..{self.end} ({days} days) in {self.seconds:.1f} s: "
                f"{self.metric_rows:,} metric rows, {self.alerts_total:,} alerts ({self.alerts_new:,} new: {sev}), "
                f"{self.alerts_resolved:,} resolved; "
                f"webhook accepted {self.webhook_accepted}")


def run_monitoring(con: DuckDBPyConnection, *, start: dt.date | None = None, end: dt.date | None = None,
                   progress: bool = True, chunk_days: int = 120, deliver: bool = True,
                   cfg: MonitoringConfig | None = None, settings: MonitoringSettings | None = None
                   ) -> MonitoringSummary:
    """Compute and store monitoring for days ``start..end`` (default: every day with decisions).

    ``con`` must be a writer connection. New alerts, then new resolutions, are delivered (log + optional webhook)
    after each commit.
    Days are processed in chunks of ``chunk_days`` (each chunk re-reads its 30-day baseline, so bigger chunks
    are faster; the default covers a 45-day world in one pass).
    """
    began = time.perf_counter()
    cfg = cfg or default_config()
    settings = settings or get_settings()
    lo, hi = decision_date_range(con)
    start, end = start or lo, end or hi
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    summary = MonitoringSummary(start, end)
    total_days = (end - start).days + 1
    chunks = -(-total_days // chunk_days)
    steps = len(cfg.variables) + 4
    with tqdm(total=chunks * steps, unit="step", desc="monitoring", disable=not progress) as bar:
        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(chunk_start + dt.timedelta(days=chunk_days - 1), end)
            metrics = compute_metrics(con, chunk_start, chunk_end, cfg, settings, tick=lambda: bar.update(1))
            raised = alerting.evaluate(metrics, cfg, settings)
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute("DELETE FROM drift_metrics WHERE metric_date BETWEEN ? AND ?", [chunk_start, chunk_end])
                if len(metrics):
                    con.register("_monitoring_metrics", metrics)
                    con.execute("INSERT INTO drift_metrics BY NAME SELECT * FROM _monitoring_metrics")
                    con.unregister("_monitoring_metrics")
                new = alerting.store(con, raised, chunk_start, chunk_end)
                resolved = resolve(con, chunk_start, cfg, settings)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            summary.metric_rows += len(metrics)
            summary.alerts_total += len(raised)
            summary.alerts_new += len(new)
            for sev, count in new["severity"].value_counts().items() if len(new) else ():
                summary.new_by_severity[sev] = summary.new_by_severity.get(sev, 0) + int(count)
            summary.alerts_resolved += len(resolved)
            if deliver and len(new):
                summary.webhook_accepted += alerting.deliver(alerting.to_payload(new), settings.webhook_url,
                                                             settings.webhook_timeout_s)
            if deliver and len(resolved):
                summary.webhook_accepted += alerting.deliver(alerting.to_payload(resolved), settings.webhook_url,
                                                             settings.webhook_timeout_s, event="resolved")
            bar.update(1)
            bar.set_postfix_str(f"through {chunk_end}")
            chunk_start = chunk_end + dt.timedelta(days=1)
    summary.seconds = time.perf_counter() - began
    return summary
