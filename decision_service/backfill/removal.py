"""Remove a set of rows from warehouse tables fast, all or nothing.

Why not a plain ``DELETE``: DuckDB applies a delete to a table's ART index (every PRIMARY KEY / UNIQUE constraint
and ``CREATE INDEX`` has one) row by row at COMMIT, on one core. On the full world, deleting the 559k backfilled
loans committed in 54.4 s, and the re-run's removal of the previous backfill (8.7M decisions) took 332.8 s in all.
Rebuilding an indexed table from the rows it keeps builds the index in bulk instead: the same loans in 0.7 s, all
8.7M decisions in 0.2 s (nothing kept). A table without an index deletes in well under a second (the 131k backfilled
repayments: 0.0 s; rebuilding that table, which keeps 1.9M rows, 1.9 s), so it keeps the plain DELETE.

How a rebuild keeps exactly the same table: the kept rows are those for which the predicate is *not TRUE* (the
complement of what DELETE removes, NULL included), copied in scan order to a temporary table; the table is dropped
and re-created from DuckDB's own rendering of its current definition (``duckdb_tables().sql``: column order as
migrated, types, defaults, PRIMARY KEY / UNIQUE / NOT NULL / CHECK / FOREIGN KEY constraints), refilled, and its
``CREATE INDEX`` indexes and comments are re-applied. A table that another table's FOREIGN KEY references cannot be
dropped, so it is deleted from instead.

Crash safety: every removal runs in ONE transaction with the DDL (DuckDB transactions cover CREATE/DROP); a process
killed at any point before COMMIT leaves the previous state on reopening, after it the new one
(tests/decision_service/test_backfill.py kills a process with SIGKILL between the DROP and the refill to check).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb

REBUILD_MIN_SHARE = 0.02
"""Rebuild an indexed table when at least this share of its rows goes. Measured on the full world: an index delete
costs about 100 us a row at COMMIT, a rebuild about 4 us per kept row, so the rebuild wins from about 1 row in 25;
below 2% the DELETE touches so few rows that either way is fast, and the DELETE rewrites nothing."""

_KEEP = "__removal_keep"


@dataclass(frozen=True)
class Removal:
    """Remove the rows of ``table`` for which ``where`` (an SQL predicate written by our code, never user input,
    with ``?`` placeholders bound to ``params``) is TRUE."""

    table: str
    where: str
    params: tuple[object, ...] = ()


@dataclass(frozen=True)
class Removed:
    """What one removal did: rows removed and kept, how (``none``, ``delete`` or ``rebuild``) and in how long."""

    table: str
    removed: int
    kept: int
    method: str
    seconds: float

    def format(self) -> str:
        return f"{self.table} {self.removed:,} ({self.method}, {self.kept:,} kept, {self.seconds:.1f} s)"


StepHook = Callable[[str], None]
"""Called after every statement with ``"<table>: <step>"`` (progress reporting; the crash test kills itself there)."""


def remove_rows(con: duckdb.DuckDBPyConnection, removals: Sequence[Removal], *,
                on_step: StepHook | None = None) -> list[Removed]:
    """Apply ``removals`` in order inside one transaction (rolled back on any error) and commit.

    The connection must not be inside a transaction already: the commit is what makes the whole removal atomic.
    """
    con.execute("BEGIN")
    try:
        done = [_remove(con, r, on_step or _no_step) for r in removals]
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return done


def _no_step(_: str) -> None:
    pass


def _remove(con: duckdb.DuckDBPyConnection, removal: Removal, on_step: StepHook) -> Removed:
    started = time.perf_counter()
    table, where, params = _quote(removal.table), removal.where, list(removal.params)
    total, hits = con.execute(f"SELECT count(*), count(*) FILTER (WHERE {where}) FROM {table}", params).fetchone()
    if hits == 0:
        method = "none"
    elif hits >= REBUILD_MIN_SHARE * total and _indexed(con, removal.table) and not _referenced(con, removal.table):
        method = "rebuild"
        _rebuild(con, removal, on_step)
    else:
        method = "delete"
        con.execute(f"DELETE FROM {table} WHERE {where}", params)
        on_step(f"{removal.table}: deleted")
    return Removed(removal.table, hits, total - hits, method, time.perf_counter() - started)


def _rebuild(con: duckdb.DuckDBPyConnection, removal: Removal, on_step: StepHook) -> None:
    """Re-create ``removal.table`` holding only its kept rows (see the module docstring)."""
    name, table = removal.table, _quote(removal.table)
    create_sql, table_comment = con.execute(
        "SELECT sql, comment FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = current_schema() AND table_name = ?", [name]).fetchone()
    index_sqls = [r[0] for r in con.execute(
        "SELECT sql FROM duckdb_indexes() WHERE database_name = current_database() "
        "AND schema_name = current_schema() AND table_name = ? AND sql IS NOT NULL", [name]).fetchall()]
    column_comments = con.execute(
        "SELECT column_name, comment FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = current_schema() AND table_name = ? AND comment IS NOT NULL", [name]).fetchall()
    con.execute(f"CREATE TEMP TABLE {_KEEP} AS SELECT * FROM {table} WHERE ({removal.where}) IS NOT TRUE",
                list(removal.params))
    on_step(f"{name}: kept rows copied")
    con.execute(f"DROP TABLE {table}")
    on_step(f"{name}: dropped")
    con.execute(create_sql)
    on_step(f"{name}: re-created")
    con.execute(f"INSERT INTO {table} SELECT * FROM {_KEEP}")
    con.execute(f"DROP TABLE {_KEEP}")
    on_step(f"{name}: refilled")
    for sql in index_sqls:
        con.execute(sql)
    if table_comment:  # COMMENT ON takes no bound parameters: a quoted literal
        con.execute(f"COMMENT ON TABLE {table} IS {_literal(table_comment)}")
    for column, comment in column_comments:
        con.execute(f"COMMENT ON COLUMN {table}.{_quote(column)} IS {_literal(comment)}")


def _indexed(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether the table carries an ART index (the thing that makes DELETE slow)."""
    constraints = con.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE database_name = current_database() "
        "AND schema_name = current_schema() AND table_name = ? "
        "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')", [table]).fetchone()[0]
    indexes = con.execute(
        "SELECT count(*) FROM duckdb_indexes() WHERE database_name = current_database() "
        "AND schema_name = current_schema() AND table_name = ?", [table]).fetchone()[0]
    return constraints + indexes > 0


def _referenced(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether another table's FOREIGN KEY points at this one (DuckDB then refuses to drop it)."""
    return con.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE database_name = current_database() "
        "AND schema_name = current_schema() AND constraint_type = 'FOREIGN KEY' AND referenced_table = ?",
        [table]).fetchone()[0] > 0


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
