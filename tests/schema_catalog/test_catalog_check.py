"""The catalog check: descriptions everywhere, every metric/dimension (and pairing) runs on a real warehouse;
pairings the copilot refuses (fan-out joins) are skipped with their reason, and every query runs under a budget."""

from __future__ import annotations

import time

import duckdb
import pytest

from schema_catalog.__main__ import main
from schema_catalog.catalog import build_catalog
from schema_catalog.check import (
    CatalogCheckError,
    CheckReport,
    CheckSettings,
    QueryBudgetError,
    bounded_connection,
    check_catalog,
    check_descriptions,
    run_bounded,
)
from schema_catalog.semantic import SEMANTIC_FILE, SemanticLayerError, parse_semantic
from warehouse.db import connect_reader
from warehouse.schema import SCHEMA_FILE, parse_schema


def test_check_passes_on_empty_migrated_warehouse(empty_warehouse: duckdb.DuckDBPyConnection) -> None:
    report = check_catalog(empty_warehouse)
    assert report.problems == []
    assert report.queries_run > 100  # every definition and every team's metric x dimension pairing ran


def test_check_passes_on_small_world(small_world) -> None:
    con = connect_reader(small_world.replica)
    try:
        report = check_catalog(con)
    finally:
        con.close()
    report.raise_if_failed()


def test_check_fails_on_a_metric_that_does_not_run(empty_warehouse: duckdb.DuckDBPyConnection) -> None:
    text = SEMANTIC_FILE.read_text().replace("quantile_cont(decisions.latency_ms, 0.95)",
                                             "quantile_cont(decisions.latency_ms, 'high')")
    report = check_catalog(empty_warehouse, build_catalog(semantic=parse_semantic(text)))
    assert any("p95_latency_ms" in p for p in report.problems)
    with pytest.raises(CatalogCheckError):
        report.raise_if_failed()


def test_semantic_layer_refuses_unknown_columns() -> None:
    text = SEMANTIC_FILE.read_text().replace("avg(decisions.score)", "avg(decisions.scor)")
    with pytest.raises(SemanticLayerError, match="no column 'scor'"):
        parse_semantic(text)


def test_check_fails_on_undescribed_column() -> None:
    text = SCHEMA_FILE.read_text().replace(
        "seed: {type: INTEGER, description: Random seed used.}", "seed: {type: INTEGER}"
    )
    assert check_descriptions(parse_schema(text)) == ["column world_runs.seed has no description"]


def test_cli_check_exit_code(small_world, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--warehouse", str(small_world.replica)]) == 0
    assert "0 problem(s)" in capsys.readouterr().out


# ---- fan-out pairings are skipped, the others run -----------------------------------------------------------------
# A tripwire in p50_latency_ms: every row it aggregates raises, so a p50 pairing that is executed on the backfilled
# small world (decisions, loans and alerts have rows there) shows up as a problem carrying TRIPWIRE; a skipped one
# cannot.
TRIPWIRE = "tripwire: p50 pairing executed"


@pytest.fixture(scope="module")
def tripwire_report(backfilled_world) -> CheckReport:
    text = SEMANTIC_FILE.read_text()  # (error() depends on the row, so the optimizer cannot fold it away)
    original = "quantile_cont(decisions.latency_ms, 0.5)"
    assert text.count(original) == 1
    tripped = f"quantile_cont(coalesce(error('{TRIPWIRE} ' || decisions.latency_ms), decisions.latency_ms), 0.5)"
    text = text.replace(original, tripped)
    con = connect_reader(backfilled_world.replica)
    try:
        # preconditions: the fanned-out tables have rows, so an executed fan-out pairing would trip the wire
        for table in ("decisions", "alerts", "loans"):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0, table
        return check_catalog(con, build_catalog(semantic=parse_semantic(text)))
    finally:
        con.close()


def _problems_of(report: CheckReport, metric: str, dimension: str) -> list[str]:
    """Problems of one pairing, whichever team ran it (the check runs each distinct query once, for the first team)."""
    prefix = f"{metric} by {dimension} "
    return [p for p in report.problems if p.startswith("[") and p.split("] ", 1)[1].startswith(prefix)]


@pytest.mark.parametrize(("team", "metric", "dimension", "fan_out_step"), [
    ("risk", "p50_latency_ms", "alert_severity", "lenders.lender_id -> alerts.lender_id"),  # the OOM on the full world
    ("growth", "p50_latency_ms", "loan_status", "decisions.decision_id -> loans.decision_id"),
    ("risk", "alert_count", "model_version", "lenders.lender_id -> decisions.lender_id"),
])
def test_fan_out_pairing_is_skipped_with_its_reason(tripwire_report: CheckReport, team: str, metric: str,
                                                    dimension: str, fan_out_step: str) -> None:
    skips = [s for s in tripwire_report.skipped if (s.metric, s.dimension) == (metric, dimension)]
    assert len(skips) == 1, tripwire_report.skipped
    assert team in skips[0].teams
    assert fan_out_step in skips[0].reason and "one-to-many" in skips[0].reason
    assert _problems_of(tripwire_report, metric, dimension) == []  # never executed, for no team


@pytest.mark.parametrize(("metric", "dimension"), [
    ("p50_latency_ms", "lender"),  # decisions -> lenders: many-to-one
    ("p50_latency_ms", "decision"),  # same table
    ("p50_latency_ms", "day"),  # time dimension
    ("p50_latency_ms", "partner"),  # decisions -> applications -> partners: two many-to-one steps
])
def test_many_to_one_pairing_still_runs(tripwire_report: CheckReport, metric: str, dimension: str) -> None:
    assert not any((s.metric, s.dimension) == (metric, dimension) for s in tripwire_report.skipped)
    problems = _problems_of(tripwire_report, metric, dimension)
    assert len(problems) == 1 and TRIPWIRE in problems[0]  # it really was executed


def test_skips_are_reported_by_the_cli(small_world, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--warehouse", str(small_world.replica), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "SKIP [risk] p95_latency_ms by alert_severity: one-to-many join refused by the copilot" in out
    assert "0 failed" in out


# ---- budgets ---------------------------------------------------------------------------------------------------------
RUNAWAY = "SELECT sum(i * i) FROM range(10000000000) t(i)"  # minutes of CPU on this machine


@pytest.mark.parametrize(("overrides", "kind", "setting"), [
    ({"timeout_s": 0.3}, "time", "CREDIT_CATALOG_CHECK_TIMEOUT_S"),
    ({"rss_limit_mb": 1}, "memory", "CREDIT_CATALOG_CHECK_RSS_LIMIT_MB"),  # this process is always above 1 MiB
])
def test_watchdog_stops_a_runaway_query(overrides: dict, kind: str, setting: str) -> None:
    con = duckdb.connect()
    started = time.monotonic()
    with pytest.raises(QueryBudgetError) as err:
        run_bounded(con, RUNAWAY, CheckSettings(**overrides))
    assert time.monotonic() - started < 10
    assert err.value.kind == kind and setting in str(err.value)
    assert con.execute("SELECT 42").fetchone() == (42,)  # the connection is still usable for the next pairing


def test_duckdb_memory_limit_applies_and_is_restored(tmp_path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("SET memory_limit = '1GB'")
    (before,) = con.execute("SELECT current_setting('memory_limit')").fetchone()
    settings = CheckSettings(memory_limit="64MB", max_temp_directory_size="1MB")
    with bounded_connection(con, settings):
        (spill,) = con.execute("SELECT current_setting('temp_directory')").fetchone()
        assert not spill.startswith(str(tmp_path))  # never spills beside the warehouse file
        with pytest.raises(duckdb.OutOfMemoryException):
            run_bounded(con, "SELECT count(*) FROM (SELECT DISTINCT i FROM range(30000000) t(i))", settings)
        assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] != before
    (after,) = con.execute("SELECT current_setting('memory_limit')").fetchone()
    # the caller's value again, up to DuckDB's rounding of the displayed value it is restored from ("953.6 MiB")
    assert after.split()[1] == before.split()[1]
    assert float(after.split()[0]) == pytest.approx(float(before.split()[0]), rel=1e-3)


def test_check_reports_a_budget_breach_as_failed_and_goes_on(backfilled_world) -> None:
    con = connect_reader(backfilled_world.replica)
    try:
        normal = check_catalog(con)
        # a 1 MiB RSS budget polled every millisecond: any query running longer than that is stopped
        stopped = check_catalog(con, settings=CheckSettings(rss_limit_mb=1, poll_s=0.001))
        assert con.execute("SELECT count(*) FROM decisions").fetchone()[0] > 0
    finally:
        con.close()
    assert normal.problems == []
    assert stopped.combinations_failed > 0
    assert stopped.queries_run == normal.queries_run  # every query was still attempted
    assert stopped.combinations_run == normal.combinations_run
    assert all("stopped by the check's memory budget: process RSS" in p for p in stopped.problems)
