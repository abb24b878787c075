"""Rollups and materialized views of published replicas (warehouse/rollups.py), on the real backfilled small world."""

from __future__ import annotations

import math

import pytest

from warehouse.db import reader
from warehouse.rollups import (
    RollupError,
    available_rollups,
    build_rollups,
    load_rollups,
    materialize_views,
    materialized_views,
    parse_rollups,
)
from warehouse.schema import load_schema


def test_published_replica_stores_materialized_views_as_tables_with_the_view_rows(backfilled_world) -> None:
    with reader(backfilled_world.replica) as con:
        for name, sql in materialized_views().items():
            kind = con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = ?",
                               [name]).fetchone()
            assert kind == ("BASE TABLE",)
            stored = con.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
            fresh = con.execute(f"SELECT * FROM ({sql}) ORDER BY ALL").fetchall()
            assert stored and len(stored) == len(fresh)
            for a, b in zip(stored, fresh, strict=True):
                assert all(x == y or (isinstance(x, float) and math.isclose(x, y, rel_tol=1e-9))
                           for x, y in zip(a, b, strict=True))


def test_rollups_sum_back_to_their_facts(backfilled_world) -> None:
    with reader(backfilled_world.replica) as con:
        assert available_rollups(con) == frozenset(load_rollups())
        assert con.execute("SELECT sum(decisions) FROM decisions_daily_rollup").fetchone()[0] == con.execute(
            "SELECT count(*) FROM decisions").fetchone()[0]
        assert con.execute("SELECT sum(applications) FROM applications_daily_rollup").fetchone()[0] == con.execute(
            "SELECT count(*) FROM applications").fetchone()[0]
        # inner join: loans booked before the marketplace (no decision) are not in the loan rollup
        assert con.execute("SELECT sum(loans) FROM loans_daily_rollup").fetchone()[0] == con.execute(
            "SELECT count(*) FROM loans JOIN decisions USING (decision_id)").fetchone()[0]


def test_writer_rollups_are_empty_and_not_available(tmp_path) -> None:
    """A writer (or an old replica) must never answer from an unfilled rollup; filling it makes it available."""
    from warehouse.db import writer

    with writer(tmp_path / "w.duckdb") as con:
        con.execute("INSERT INTO partners (partner_id, name) VALUES ('P01', 'x')")
        con.execute("INSERT INTO applications (application_id, partner_id, received_at) "
                    "VALUES ('A1', 'P01', TIMESTAMP '2026-01-02 10:00:00')")
        assert "applications_daily_rollup" not in available_rollups(con)
        assert "decisions_daily_rollup" in available_rollups(con)  # no decisions: the empty rollup is right
        rows = build_rollups(con)
        assert rows["applications_daily_rollup"] == 1
        assert "applications_daily_rollup" in available_rollups(con)
        (name,) = con.execute("SELECT current_database()").fetchone()
        assert materialize_views(con, name) == list(materialized_views())
        assert materialize_views(con, name) == []  # already tables: nothing to do


@pytest.mark.parametrize(("yaml_text", "message"), [
    ("tables:\n  r:\n    rollup: {of: nope, sql: SELECT 1}\n    columns: {a: {type: INT}}\n", "unknown table"),
    ("tables:\n  f: {columns: {k: {type: INT}}}\n  r:\n    rollup: {of: f, keys: {b: f.k}, sql: SELECT 1}\n"
     "    columns: {a: {type: INT}}\n", "not one of its columns"),
    ("tables:\n  f: {columns: {k: {type: INT}}}\n  g: {columns: {k: {type: INT}}}\n  r:\n"
     "    rollup: {of: f, keys: {a: g.k}, sql: SELECT 1}\n    columns: {a: {type: INT}}\n", "not f or its joins"),
])
def test_malformed_rollup_blocks_are_refused(yaml_text: str, message: str) -> None:
    with pytest.raises(RollupError, match=message):
        parse_rollups(yaml_text)


def test_every_rollup_is_an_internal_table_of_the_contract() -> None:
    schema = load_schema()
    for rollup in load_rollups().values():
        assert schema.tables[rollup.table].internal
        assert not schema.tables[rollup.table].is_view
