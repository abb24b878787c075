"""Alert thresholds, stable ids, de-duplication across re-runs, and delivery to a real local HTTP webhook."""

from __future__ import annotations

import json
import logging
import shutil
from http.server import ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from warehouse.db import writer
from warehouse.monitoring.alerts import alert_id, deliver, evaluate
from warehouse.monitoring.config import MonitoringConfigError, default_config, load_config
from warehouse.monitoring.runner import run_monitoring
from warehouse.monitoring.settings import MonitoringSettings, get_settings


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/hook"


def test_alert_id_is_stable_and_distinguishes_every_key() -> None:
    key = ("2026-10-20", "psi", "bureau_score", "P08", "L01")
    assert alert_id(*key) == alert_id(*key)
    variants = {alert_id(*key[:i], "x", *key[i + 1:]) for i in range(5)} | {alert_id(*key[:4], None)}
    assert len(variants | {alert_id(*key)}) == 7


@pytest.mark.parametrize(("metric", "value", "baseline", "severity"), [
    ("psi", 0.05, None, None),
    ("psi", 0.12, None, "watch"),
    ("psi", 0.30, None, "alert"),
    ("psi", 1.50, None, "critical"),
    ("approval_rate", 0.33, 0.34, None),
    ("approval_rate", 0.30, 0.34, "watch"),
    ("approval_rate", 0.27, 0.34, "alert"),
    ("approval_rate", 0.40, 0.34, None),  # a rise is not a drop
    ("zero_share", 0.95, 0.02, "critical"),
    ("p95_latency_ms", 210.0, 100.0, "alert"),
    ("fallback_rate", 0.03, 0.02, None),
])
def test_thresholds(metric: str, value: float, baseline: float | None, severity: str | None) -> None:
    settings = MonitoringSettings()
    row = {"metric_date": pd.Timestamp("2026-10-20"), "partner_id": "P01", "channel_type": "aggregator",
           "lender_id": None, "metric": metric, "feature": None, "value": value, "baseline_value": baseline,
           "sample_size": settings.min_rows_day, "baseline_size": settings.min_rows_baseline,
           "baseline_scope": "own"}
    alerts = evaluate(pd.DataFrame([row]), default_config(), settings)
    assert (alerts["severity"].iloc[0] if len(alerts) else None) == severity


def test_small_samples_never_alert() -> None:
    settings = MonitoringSettings()
    row = {"metric_date": pd.Timestamp("2026-10-20"), "partner_id": "P01", "channel_type": "web", "lender_id": None,
           "metric": "psi", "feature": "score", "value": 3.0, "baseline_value": None,
           "sample_size": settings.min_rows_day - 1, "baseline_size": 10_000, "baseline_scope": "own"}
    assert evaluate(pd.DataFrame([row]), default_config(), settings).empty


def test_bad_thresholds_are_rejected(tmp_path: Path) -> None:
    text = (Path(get_settings().config_path).read_text()
            .replace("watch: 0.10, alert: 0.25, critical: 1.0", "watch: 0.30, alert: 0.25"))
    bad = tmp_path / "m.yaml"
    bad.write_text(text)
    with pytest.raises(MonitoringConfigError, match="must increase"):
        load_config(bad)
    with pytest.raises(MonitoringConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


def test_rerun_does_not_duplicate_or_redeliver(monitored_world: Path, tmp_path: Path, webhook: ThreadingHTTPServer,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copyfile(monitored_world, path)
    monkeypatch.setenv("CREDIT_MONITORING_WEBHOOK_URL", _url(webhook))
    get_settings.cache_clear()
    try:
        with writer(path) as con:
            con.execute("DELETE FROM alerts WHERE metric_date >= DATE '2026-10-20'")  # as if never alerted
            first = run_monitoring(con, start=pd.Timestamp("2026-10-20").date(), progress=False)
            ids_first = con.execute("SELECT alert_id FROM alerts ORDER BY 1").fetchall()
            second = run_monitoring(con, start=pd.Timestamp("2026-10-20").date(), progress=False)
            ids_second = con.execute("SELECT alert_id FROM alerts ORDER BY 1").fetchall()
            dupes = con.execute("SELECT count(*) - count(DISTINCT alert_id) FROM alerts").fetchone()[0]
    finally:
        get_settings.cache_clear()
    assert first.alerts_new > 0 and second.alerts_new == 0
    assert ids_first == ids_second and dupes == 0
    raised = [b for b in webhook.received if b["event"] == "raised"]  # type: ignore[attr-defined]
    delivered = [a for body in raised for a in body["alerts"]]
    resolved = [a for b in webhook.received if b["event"] == "resolved" for a in b["alerts"]]  # type: ignore[attr-defined]
    assert len(delivered) == first.alerts_new and len(resolved) == first.alerts_resolved
    assert first.webhook_accepted == first.alerts_new + first.alerts_resolved and second.alerts_resolved == 0
    assert {a["alert_id"] for a in delivered} <= {i for (i,) in ids_first}
    assert any(a["partner_id"] == "P08" for a in delivered)


def test_failing_webhook_is_logged_not_fatal(webhook: ThreadingHTTPServer, caplog: pytest.LogCaptureFixture) -> None:
    webhook.status = 500  # type: ignore[attr-defined]
    alerts = [{"alert_id": "al-1", "metric": "psi", "severity": "alert"}]
    with caplog.at_level(logging.WARNING, logger="warehouse.monitoring.alerts"):
        assert deliver(alerts, _url(webhook)) == 0
        assert deliver(alerts, "http://127.0.0.1:9/closed", timeout_s=1.0) == 0  # nothing listens on port 9
    logged = [json.loads(r.getMessage()) for r in caplog.records]
    assert sum(1 for m in logged if m.get("alert_id") == "al-1") == 2  # every alert reaches the log regardless
    failures = [m for m in logged if m.get("event") == "webhook_failed"]
    assert len(failures) == 2 and "500" in failures[0]["error"]
    assert len(webhook.received) == 1  # type: ignore[attr-defined]
