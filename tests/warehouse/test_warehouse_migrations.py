"""Migrations are additive, idempotent and record the version reached."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from warehouse.migrations import SchemaDowngradeError, current_version, migrate
from warehouse.schema import SCHEMA_FILE, load_schema, parse_schema


def _older_schema() -> object:
    """The current contract minus one column and one table, at version 1: what an older release wrote."""
    raw = yaml.safe_load(SCHEMA_FILE.read_text())
    raw["version"] = 1
    del raw["tables"]["partners"]["columns"]["quality_tier"]
    del raw["tables"]["world_events"]
    return parse_schema(yaml.safe_dump(raw, sort_keys=False))


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()
    return {r[0] for r in rows}


def test_migrate_is_idempotent_and_records_the_version(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert current_version(con) == 0
    assert migrate(con) == load_schema().version
    migrate(con)
    assert current_version(con) == load_schema().version
    assert con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == 1


def test_older_file_gains_the_new_column_and_table_and_keeps_its_rows(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    migrate(con, _older_schema())
    con.execute("INSERT INTO partners (partner_id, name, channel_type, onboarded_on) "
                "VALUES ('P01', 'Paisabazaar', 'aggregator', DATE '2023-01-01')")
    assert "quality_tier" not in _columns(con, "partners")
    migrate(con)
    assert "quality_tier" in _columns(con, "partners")
    assert _columns(con, "world_events") == {"event_date", "scenario", "detail"}
    assert con.execute("SELECT name, quality_tier FROM partners").fetchall() == [("Paisabazaar", None)]
    assert [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()] == [
        1, load_schema().version]


def test_newer_file_is_refused(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "new.duckdb"))
    migrate(con)
    con.execute("INSERT INTO schema_migrations VALUES (?, now(), 'future')", [load_schema().version + 1])
    with pytest.raises(SchemaDowngradeError):
        migrate(con)
