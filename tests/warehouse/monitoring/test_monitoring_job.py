"""The daily job over a real warehouse file: correctness against independent SQL, the new-partner alerts,
idempotency, zero-inflation detection and the CLI."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from warehouse.db import writer
from warehouse.monitoring.cli import main
from warehouse.monitoring.config import default_config
from warehouse.monitoring.divergence import divergences
from warehouse.monitoring.runner import run_monitoring


def _read(path: Path, sql: str, params: list | None = None) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, params or []).df()


def test_rates_match_independent_sql(monitored_world: Path) -> None:
    got = _read(monitored_world, """
        SELECT metric_date, partner_id, lender_id, value, baseline_value FROM drift_metrics
        WHERE metric = 'approval_rate' AND metric_date = DATE '2026-10-20'""")
    want = _read(monitored_world, """
        SELECT partner_id, lender_id, avg(CASE WHEN decision = 'approve' THEN 1.0 ELSE 0 END) AS rate
        FROM decisions WHERE CAST(decided_at AS DATE) = DATE '2026-10-20'
        GROUP BY GROUPING SETS ((partner_id, lender_id), (partner_id), (lender_id), ())""")
    merged = got.merge(want, on=["partner_id", "lender_id"], how="outer")
    assert len(merged) == len(want) == len(got)
    assert np.allclose(merged["value"], merged["rate"])
    base = _read(monitored_world, """
        SELECT avg(CASE WHEN decision = 'approve' THEN 1.0 ELSE 0 END) FROM decisions
        WHERE decided_at >= DATE '2026-09-20' AND decided_at < DATE '2026-10-20'""").iloc[0, 0]
    overall = merged[merged["partner_id"].isna() & merged["lender_id"].isna()]
    assert overall["baseline_value"].iloc[0] == pytest.approx(base)


def test_psi_matches_a_direct_numpy_computation(monitored_world: Path) -> None:
    """Vectorised job vs straightforward recomputation for one segment-day (all partners, lender L03)."""
    cfg, spec = default_config(), default_config().variables["bureau_score"]
    raw = _read(monitored_world, """
        SELECT decided_at >= DATE '2026-10-25' AS today, features.bureau_score AS x FROM decisions
        WHERE lender_id = 'L03' AND decided_at >= DATE '2026-09-25' AND decided_at < DATE '2026-10-26'""")

    def hist(x: np.ndarray) -> np.ndarray:
        fine = np.where(np.isnan(x), 0, 1 + np.clip(np.floor((x - spec.lo) / spec.width), 0, spec.bins - 1))
        return np.bincount(fine.astype(int), minlength=spec.bins + 1).astype(float)

    x = raw["x"].to_numpy(dtype=float)
    want = divergences(hist(x[raw["today"]]), hist(x[~raw["today"]]), cfg.coarse_bins, cfg.epsilon)["psi"]
    got = _read(monitored_world, """
        SELECT value FROM drift_metrics WHERE metric = 'psi' AND feature = 'bureau_score' AND lender_id = 'L03'
        AND partner_id IS NULL AND metric_date = DATE '2026-10-25'""")
    assert got["value"].iloc[0] == pytest.approx(float(want))


def test_default_world_alerts_on_the_new_partner(monitored_world: Path) -> None:
    alerts = _read(monitored_world, "SELECT * FROM alerts")
    p08 = alerts[alerts["partner_id"] == "P08"]
    assert {"volume_share", "psi"} <= set(p08["metric"])
    assert (p08["severity"].isin(["alert", "critical"])).any()
    psi = _read(monitored_world, """SELECT baseline_scope, value FROM drift_metrics WHERE partner_id = 'P08'
        AND lender_id IS NULL AND metric = 'psi' AND feature = 'score' ORDER BY metric_date LIMIT 1""")
    assert psi["baseline_scope"].iloc[0] == "all_partners" and psi["value"].iloc[0] > 0.25
    overall = alerts[alerts["partner_id"].isna() & alerts["lender_id"].isna()]
    assert "approval_rate" in set(overall["metric"])
    established = alerts[alerts["partner_id"].isin(["P01", "P02", "P07"]) & (alerts["severity"] != "watch")]
    assert len(established) < len(p08[p08["severity"] != "watch"]) / 2


def test_running_a_day_twice_leaves_the_same_rows(monitored_world: Path, tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copyfile(monitored_world, path)
    day = dt.date(2026, 10, 22)
    cols = "metric_date, partner_id, lender_id, metric, feature, value, baseline_value, sample_size, baseline_scope"
    query = f"SELECT {cols} FROM drift_metrics WHERE metric_date = ? ORDER BY ALL"
    with writer(path) as con:
        before = con.execute(query, [day]).df()
        alerts_before = con.execute("SELECT * FROM alerts ORDER BY alert_id").df()
        first = run_monitoring(con, start=day, end=day, progress=False)
        second = run_monitoring(con, start=day, end=day, progress=False)
        after = con.execute(query, [day]).df()
        alerts_after = con.execute("SELECT * FROM alerts ORDER BY alert_id").df()
        total = con.execute("SELECT count(*) FROM drift_metrics").fetchone()[0]
    pd.testing.assert_frame_equal(before, after)
    pd.testing.assert_frame_equal(alerts_before, alerts_after)  # raised_at kept: same alerts, not new ones
    assert first.metric_rows == second.metric_rows == len(after) > 0
    assert first.alerts_new == second.alerts_new == 0
    assert total == _read(monitored_world, "SELECT count(*) FROM drift_metrics").iloc[0, 0]


def test_zero_inflation_is_detected(scenario_world) -> None:
    path = scenario_world("feature_zero")
    with writer(path) as con:
        run_monitoring(con, progress=False, deliver=False)
        start = con.execute("SELECT event_date FROM world_events").fetchone()[0]
        zero = con.execute("""SELECT metric_date, value, baseline_value FROM drift_metrics WHERE metric = 'zero_share'
            AND feature = 'utilisation_pct' AND partner_id IS NULL AND lender_id IS NULL ORDER BY 1""").df()
        alerts = con.execute("""SELECT metric_date, severity FROM alerts WHERE metric = 'zero_share'
            AND feature = 'utilisation_pct' AND partner_id IS NULL AND lender_id IS NULL""").df()
    on = zero[pd.to_datetime(zero["metric_date"]) >= pd.Timestamp(start)]
    off = zero[pd.to_datetime(zero["metric_date"]) < pd.Timestamp(start)]
    assert (on["value"] > 0.99).all() and (off["value"] < 0.1).all()
    assert pd.Timestamp(alerts["metric_date"].min()) == pd.Timestamp(start)
    assert alerts.loc[pd.to_datetime(alerts["metric_date"]) == pd.Timestamp(start), "severity"].iloc[0] == "critical"


def test_cli_monitor_one_day(monitored_world: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copyfile(monitored_world, path)
    assert main(["monitor", "--date", "2026-10-15", "--path", str(path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "monitoring 2026-10-15..2026-10-15 (1 days)" in out and "0 new" in out


def test_empty_warehouse_is_a_typed_error(tmp_path: Path) -> None:
    from warehouse.monitoring.job import NoDecisionsError

    with writer(tmp_path / "empty.duckdb") as con, pytest.raises(NoDecisionsError):
        run_monitoring(con, progress=False)


def test_dashboard_helpers(monitored_world: Path) -> None:
    from warehouse.monitoring import metric_series, recent_alerts

    with duckdb.connect(str(monitored_world), read_only=True) as con:
        series = metric_series(con, "approval_rate")
        p08 = metric_series(con, "volume_share", partner_id="P08")
        severe = recent_alerts(con, min_severity="alert")
        with pytest.raises(ValueError, match="min_severity"):
            recent_alerts(con, min_severity="panic")
    assert series["metric_date"].is_monotonic_increasing and len(series) == 30
    assert p08["value"].iloc[-1] > 0.2 and p08["baseline_value"].iloc[0] == 0
    assert len(severe) and set(severe["severity"]) <= {"alert", "critical"}
    assert severe["severity"].iloc[0] == "critical" or "critical" not in set(severe["severity"])


def test_host_cli_reports_typed_errors(monitored_world: Path, capsys: pytest.CaptureFixture) -> None:
    from warehouse.__main__ import main as warehouse_main

    code = warehouse_main(["diagnose", "--baseline", "2027-01-01:2027-01-05", "--current", "2026-10-14:2026-10-30",
                           "--path", str(monitored_world)])
    assert code == 1 and "no decisions" in capsys.readouterr().err


def test_days_without_decisions_write_nothing(monitored_world: Path, tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copyfile(monitored_world, path)
    with writer(path) as con:
        summary = run_monitoring(con, start=dt.date(2027, 1, 1), end=dt.date(2027, 1, 2), progress=False)
        assert (summary.metric_rows, summary.alerts_total) == (0, 0)
        later = con.execute("SELECT count(*) FROM drift_metrics WHERE metric_date >= DATE '2027-01-01'").fetchone()
    assert later == (0,)
