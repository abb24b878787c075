"""Team TEMP views on a read-only replica connection: only visible columns, out-of-scope tables refused."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import duckdb
import pytest

from schema_catalog.views import apply_team_views, team_view_sql
from warehouse.db import connect_reader


@pytest.fixture
def replica(small_world, tmp_path) -> Iterator[duckdb.DuckDBPyConnection]:
    # A private copy: DuckDB shares one database instance per file in a process, and these tests lock its
    # configuration, which must neither leak into other tests nor depend on what they did to the shared replica.
    copy = tmp_path / "replica.duckdb"
    shutil.copyfile(small_world.replica, copy)
    con = connect_reader(copy)
    yield con
    con.close()


def _apply_and_lock(con: duckdb.DuckDBPyConnection, team: str) -> None:
    apply_team_views(con, team)
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def test_views_hide_columns_outside_scope(replica: duckdb.DuckDBPyConnection) -> None:
    _apply_and_lock(replica, "growth")
    assert replica.execute("SELECT count(*) FROM applications").fetchone()[0] > 0
    cols = [r[0] for r in replica.execute("DESCRIBE decisions").fetchall()]
    assert "features" not in cols and "decision" in cols
    with pytest.raises(duckdb.BinderException):
        replica.execute("SELECT features FROM decisions")


@pytest.mark.parametrize(("team", "table"), [("growth", "bureau_reports"), ("growth", "applicants"),
                                              ("partnerships", "decisions"), ("partnerships", "applications")])
def test_out_of_scope_tables_raise(replica: duckdb.DuckDBPyConnection, team: str, table: str) -> None:
    _apply_and_lock(replica, team)
    with pytest.raises(duckdb.Error, match=f"not in the scope of team {team}"):
        replica.execute(f"SELECT * FROM {table}").fetchall()


def test_partnerships_daily_view_still_reads_the_real_tables(replica: duckdb.DuckDBPyConnection) -> None:
    expected = replica.execute("SELECT count(*) FROM partner_lender_daily").fetchone()[0]
    _apply_and_lock(replica, "partnerships")
    assert replica.execute("SELECT count(*) FROM partner_lender_daily").fetchone()[0] == expected


def test_risk_sees_pii_columns(replica: duckdb.DuckDBPyConnection) -> None:
    _apply_and_lock(replica, "risk")
    assert "pan" in [r[0] for r in replica.execute("DESCRIBE applicants").fetchall()]


def test_statements_name_the_database() -> None:
    stmts = team_view_sql("growth", "replica")
    assert any('FROM "replica".main."decisions"' in s for s in stmts)


def test_views_skip_tables_an_older_replica_does_not_hold(tmp_path) -> None:
    """A replica published before a schema version added tables (rollups) still gets its team views."""
    import duckdb

    from schema_catalog.views import apply_team_views
    from warehouse.migrations import migrate

    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    migrate(con)
    rollups = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '%_rollup'")
               .fetchall()]
    assert rollups
    for table in rollups:
        con.execute(f"DROP TABLE {table}")
    apply_team_views(con, "risk")  # the missing rollups are skipped, not an error
    assert con.execute("SELECT count(*) FROM decisions").fetchone() == (0,)
    con.close()
