"""Rollup tables: pre-aggregated copies of the big fact tables, filled in every replica snapshot.

Why: the analyst copilot's slowest answers group millions of fact rows by a column of a joined table (decisions by
partner, bureau pulls by the applicant's state, loans by the approving decision's score band). On this 2-core machine
the hash join alone takes 1-2 s; the same answer from a few tens of thousands of pre-aggregated rows takes a few
milliseconds. A rollup is declared in ``schema.yaml`` as an internal table with a ``rollup`` block:

- ``of``: the fact table it summarises;
- ``joins``: tables inner-joined to the fact table (along the contract's references) before grouping; a fact row
  without a match is *not* in the rollup, so a planner may use it only for questions that join those tables anyway;
- ``keys``: rollup column -> the foreign key it carries (``partner_id: decisions.partner_id``), so dimension tables
  join to the rollup exactly as they join to the fact table;
- ``sql``: the SELECT that fills it (tables unqualified; only additive measures: counts and sums).

The writer holds the tables empty (``migrate`` creates them from the columns like any table); :func:`build_rollups`
fills them in the snapshot :func:`warehouse.db.publish_replica` writes, so every replica's rollups match its facts.
:func:`available_rollups` tells a reader which rollups a replica really holds (an older replica has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb
import sqlglot
import yaml
from sqlglot import exp

from warehouse.schema import SCHEMA_FILE


@dataclass(frozen=True)
class Rollup:
    """One rollup table as declared in ``schema.yaml``."""

    table: str
    of: str
    joins: frozenset[str]
    keys: dict[str, str]
    """rollup column -> qualified fact-side column (``decisions.partner_id``)."""
    sql: str


class RollupError(ValueError):
    """A rollup block in schema.yaml is malformed (unknown table, key column the rollup does not have)."""


def parse_rollups(text: str) -> dict[str, Rollup]:
    """The rollup blocks of schema YAML text, by rollup table name."""
    raw = yaml.safe_load(text) or {}
    tables = raw.get("tables") or {}
    found: dict[str, Rollup] = {}
    for name, body in tables.items():
        spec = body.get("rollup")
        if not spec:
            continue
        of, joins = spec["of"], frozenset(spec.get("joins") or ())
        for t in (of, *joins):
            if t not in tables:
                raise RollupError(f"rollup {name!r}: unknown table {t!r}")
        keys = {str(k): str(v) for k, v in (spec.get("keys") or {}).items()}
        for col, source in keys.items():
            if col not in body["columns"]:
                raise RollupError(f"rollup {name!r}: key {col!r} is not one of its columns")
            if source.partition(".")[0] not in {of, *joins}:
                raise RollupError(f"rollup {name!r}: key {col!r} comes from {source!r}, not {of} or its joins")
        found[name] = Rollup(name, of, joins, keys, str(spec["sql"]))
    return found


@lru_cache
def load_rollups(path: Path = SCHEMA_FILE) -> dict[str, Rollup]:
    """Rollups of the warehouse contract (cached)."""
    return parse_rollups(path.read_text())


def _qualified(sql: str, database: str) -> str:
    tree = sqlglot.parse_one(sql, read="duckdb")
    for table in tree.find_all(exp.Table):
        table.set("catalog", exp.to_identifier(database, quoted=True))
        table.set("db", exp.to_identifier("main"))
    return tree.sql(dialect="duckdb")


def build_rollups(con: duckdb.DuckDBPyConnection, database: str | None = None) -> dict[str, int]:
    """Refill every rollup table of ``database`` (default: the connection's) from its facts; returns rows per table.

    Reads and writes only inside ``database``, so the writer can fill a freshly attached snapshot. The rollup tables
    must exist (``migrate`` creates them); the column order of the table is the order of the SELECT.
    """
    database = database or con.execute("SELECT current_database()").fetchone()[0]
    rows: dict[str, int] = {}
    present = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main'", [database]
    ).fetchall()}
    for rollup in load_rollups().values():
        if not {rollup.table, rollup.of, *rollup.joins} <= present:
            continue  # a file migrated before this rollup existed: nothing to fill (readers then skip it)
        target = f'"{database}".main.{rollup.table}'
        con.execute(f"DELETE FROM {target}")
        con.execute(f"INSERT INTO {target} BY NAME {_qualified(rollup.sql, database)}")
        rows[rollup.table] = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
    return rows


@lru_cache
def materialized_views(path: Path = SCHEMA_FILE) -> dict[str, str]:
    """Views of the contract marked ``materialize: true``: view name -> its SELECT."""
    raw = yaml.safe_load(path.read_text()) or {}
    return {name: str(body["sql"]) for name, body in (raw.get("views") or {}).items() if body.get("materialize")}


def materialize_views(con: duckdb.DuckDBPyConnection, database: str) -> list[str]:
    """Replace each ``materialize: true`` view of ``database`` by a table holding its rows (same columns and types).

    Only for snapshots: a replica never changes after it is published, so the stored rows stay exactly the view's
    rows, and readers no longer recompute an aggregate over every decision per query. The writer keeps the view.
    """
    done = []
    for name, sql in materialized_views().items():
        kind = con.execute(
            "SELECT table_type FROM information_schema.tables WHERE table_catalog = ? AND table_schema = 'main' "
            "AND table_name = ?", [database, name]).fetchone()
        if kind is None or kind[0] != "VIEW":
            continue
        target = f'"{database}".main.{name}'
        con.execute(f"CREATE TABLE \"{database}\".main.__materializing AS {_qualified(sql, database)}")
        con.execute(f"DROP VIEW {target}")
        con.execute(f'ALTER TABLE "{database}".main.__materializing RENAME TO {name}')
        done.append(name)
    return done


def available_rollups(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Rollups this database really holds: the table exists and is filled (or its fact table is empty too).

    A replica published before rollups existed has none, and a writer holds them empty; answering from an empty
    rollup would be wrong, so those are left out.
    """
    present = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'"
    ).fetchall()}
    usable = set()
    for rollup in load_rollups().values():
        if rollup.table not in present or rollup.of not in present:
            continue
        filled = con.execute(f"SELECT EXISTS (SELECT 1 FROM {rollup.table})").fetchone()[0]
        facts = con.execute(f"SELECT EXISTS (SELECT 1 FROM {rollup.of})").fetchone()[0]
        if filled or not facts:
            usable.add(rollup.table)
    return frozenset(usable)
