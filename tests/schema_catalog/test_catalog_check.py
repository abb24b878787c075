"""The catalog check: descriptions everywhere, every metric/dimension (and pairing) runs on a real warehouse."""

from __future__ import annotations

import duckdb
import pytest

from schema_catalog.__main__ import main
from schema_catalog.catalog import build_catalog
from schema_catalog.check import CatalogCheckError, check_catalog, check_descriptions
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
