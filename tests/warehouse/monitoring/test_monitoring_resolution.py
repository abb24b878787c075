"""Alert resolution on a real backfilled small world: a fault injected into one partner's decisions for a few days
raises alerts that the daily job resolves on the first day the metric is back within its thresholds, once, with a
"resolved" webhook event; re-running any day changes nothing and sends nothing."""

from __future__ import annotations

import datetime as dt
import shutil
from http.server import ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from tests.warehouse.monitoring.test_monitoring_alerts import _url
from warehouse.db import writer
from warehouse.monitoring.alerts import within_thresholds
from warehouse.monitoring.config import default_config
from warehouse.monitoring.runner import run_monitoring
from warehouse.monitoring.settings import MonitoringSettings, get_settings

FAULT_DAYS = 3


def _state(con) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return con.execute("SELECT alert_id, metric_date, severity, status, resolved_on, resolved_at, raised_at "
                       "FROM alerts ORDER BY alert_id").df()


@pytest.fixture
def faulty_world(monitored_world: Path, tmp_path: Path) -> tuple[Path, str, dt.date]:
    """A copy of the monitored world in which the busiest partner's decisions all used the rule-based fallback for
    FAULT_DAYS days (the scenario), and whose monitoring stops the day before the fault (the daily job resumes)."""
    path = tmp_path / "w.duckdb"
    shutil.copyfile(monitored_world, path)
    with writer(path) as con:
        last = con.execute("SELECT max(decided_at)::DATE FROM decisions").fetchone()[0]
        first_fault = last - dt.timedelta(days=8)
        partner = con.execute("SELECT partner_id FROM decisions GROUP BY ALL ORDER BY count(*) DESC LIMIT 1"
                              ).fetchone()[0]
        con.execute("UPDATE decisions SET fallback_used = true WHERE partner_id = ? AND decided_at >= ? "
                    "AND decided_at < ?", [partner, first_fault, first_fault + dt.timedelta(days=FAULT_DAYS)])
        for table in ("drift_metrics", "alerts"):
            con.execute(f"DELETE FROM {table} WHERE metric_date >= ?", [first_fault])
    return path, partner, first_fault


def test_injected_fault_is_raised_then_resolved_once(faulty_world: tuple[Path, str, dt.date],
                                                     webhook: ThreadingHTTPServer,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path, partner, first_fault = faulty_world
    recovery = first_fault + dt.timedelta(days=FAULT_DAYS)
    monkeypatch.setenv("CREDIT_MONITORING_WEBHOOK_URL", _url(webhook))
    get_settings.cache_clear()
    try:
        with writer(path) as con:
            summaries = {}
            for i in range(FAULT_DAYS + 2):  # the daily job, one day at a time
                day = first_fault + dt.timedelta(days=i)
                summaries[day] = run_monitoring(con, start=day, end=day, progress=False)
            key = con.execute("""
                SELECT alert_id, metric_date, status, resolved_on, resolved_at FROM alerts
                WHERE metric = 'fallback_rate' AND partner_id = ? AND lender_id IS NULL ORDER BY metric_date""",
                              [partner]).df()
            evidence = con.execute("""
                SELECT value, baseline_value, sample_size FROM drift_metrics WHERE metric = 'fallback_rate'
                AND partner_id = ? AND lender_id IS NULL AND metric_date = ?""", [partner, recovery]).fetchone()
            before, events = _state(con), list(webhook.received)
            rerun = [run_monitoring(con, start=d, end=d, progress=False)
                     for d in (recovery, first_fault + dt.timedelta(days=1), first_fault)]
            rerun.append(run_monitoring(con, start=first_fault - dt.timedelta(days=2), end=day, progress=False))
            after = _state(con)
    finally:
        get_settings.cache_clear()

    # the fault raised one alert per faulty day for the partner, all resolved by the first clean day
    assert [d.date() for d in pd.to_datetime(key["metric_date"])] == [
        first_fault + dt.timedelta(days=i) for i in range(FAULT_DAYS)]
    assert (key["status"] == "resolved").all() and key["resolved_at"].notna().all()
    assert {d.date() for d in pd.to_datetime(key["resolved_on"])} == {recovery}
    # independent check of the evidence: enough decisions, fallback rate no longer risen by the watch threshold
    value, baseline, sample = evidence
    assert sample >= MonitoringSettings().min_rows_day and value - baseline < 0.02
    assert summaries[recovery].alerts_resolved >= FAULT_DAYS

    # delivery: each fault alert raised once, then resolved once, as separate webhook events
    raised = [a["alert_id"] for b in events if b["event"] == "raised" for a in b["alerts"]]
    resolved = [a for b in events if b["event"] == "resolved" for a in b["alerts"]]
    assert len(raised) == len(set(raised)) and len(resolved) == len({a["alert_id"] for a in resolved})
    assert set(key["alert_id"]) <= set(raised) and set(key["alert_id"]) <= {a["alert_id"] for a in resolved}
    mine = [a for a in resolved if a["alert_id"] in set(key["alert_id"])]
    assert {(a["status"], a["resolved_on"]) for a in mine} == {("resolved", recovery.isoformat())}
    assert len(resolved) == sum(s.alerts_resolved for s in summaries.values())

    # idempotent: re-running the recovery day, a fault day, or everything again changes nothing and sends nothing
    assert all(s.alerts_new == 0 and s.alerts_resolved == 0 for s in rerun)
    assert len(webhook.received) == len(events)  # type: ignore[attr-defined]
    pd.testing.assert_frame_equal(before, after)


@pytest.mark.parametrize(("metric", "value", "baseline", "sample", "clear"), [
    ("fallback_rate", 0.02, 0.02, 300, True),
    ("fallback_rate", 0.05, 0.02, 300, False),  # still risen (watch at +0.02)
    ("fallback_rate", 0.02, 0.02, 299, False),  # too few decisions: no evidence either way
    ("fallback_rate", 0.02, None, 300, False),  # no baseline: a rise test cannot judge it
    ("psi", 0.05, None, 300, True),
    ("psi", 0.12, None, 300, False),
    ("kl_divergence", 0.0, None, 300, False),  # no alert rule: never evidence
])
def test_within_thresholds(metric: str, value: float, baseline: float | None, sample: int, clear: bool) -> None:
    settings = MonitoringSettings()
    row = {"metric_date": pd.Timestamp("2026-10-20"), "partner_id": "P01", "channel_type": "app", "lender_id": None,
           "metric": metric, "feature": None, "value": value, "baseline_value": baseline, "sample_size": sample,
           "baseline_size": settings.min_rows_baseline, "baseline_scope": "own"}
    assert len(within_thresholds(pd.DataFrame([row]), default_config(), settings)) == int(clear)
