"""Team views: TEMP views that shadow each in-scope table with only the team's visible columns.

The replica is read-only and written by processes that must not import this package, so team views cannot live in
the replica file. Warehouse views a team may read (partner_lender_daily) are inlined with their tables qualified,
so they keep reading the real tables underneath. DuckDB does allow ``CREATE TEMP VIEW`` on a ``read_only=True``
connection (verified on DuckDB 2.0.1, also after ``SET lock_configuration = true``); temp objects are searched
before the file's own tables, so an unqualified ``decisions`` then means the team's view. The executor runs these
statements on its connection before it locks the configuration.

Two facts the executor must respect (tested in tests/schema_catalog/test_views.py):
- the view body must name the base table with the *database* qualifier (``"replica".main.decisions``): with only
  ``main.decisions`` DuckDB binds the temp view to itself and fails with "infinite recursion";
- consequently a query that itself writes ``"replica".main.<table>`` bypasses the views: the guardrails must reject
  catalog- or schema-qualified table names. Out-of-scope tables are shadowed by a view that raises, as a second
  line (the error sits in the WHERE clause: in the select list ``count(*)`` would be optimised past it).
"""

from __future__ import annotations

import duckdb
import sqlglot
from sqlglot import exp

from schema_catalog.teams import team_scope
from warehouse.schema import load_schema
from warehouse.settings import get_settings as warehouse_settings


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified(view_sql: str, database: str) -> str:
    """The view's SELECT with every table pinned to ``database.main``.

    A warehouse view binds its table names when it is queried, so inside a team's session ``decisions`` in the
    body of ``partner_lender_daily`` would resolve to the team's TEMP view (for partnerships: the denial view).
    Inlining the body with qualified tables keeps the aggregate computed from the real tables while the team still
    cannot name them.
    """
    tree = sqlglot.parse_one(view_sql, read="duckdb")
    for table in tree.find_all(exp.Table):
        table.set("catalog", exp.to_identifier(database, quoted=True))
        table.set("db", exp.to_identifier("main"))
    return tree.sql(dialect="duckdb")


def team_view_sql(team: str, database: str | None = None, present: set[str] | None = None) -> list[str]:
    """Statements creating the team's TEMP views; ``database`` defaults to the replica file's catalog name (stem).

    ``present`` (the tables the file holds) skips in-scope tables an older replica does not have yet (rollups
    added by a later schema version): a view over a missing table cannot be created, and nothing can query it."""
    scope = team_scope(team)
    db = database or warehouse_settings().replica_path.stem
    statements = []
    for table in load_schema().tables.values():
        if present is not None and table.name in scope.tables and table.name not in present:
            continue
        if table.name in scope.tables:
            cols = ", ".join(_ident(c) for c in scope.tables[table.name])
            source = f"{_ident(db)}.main.{_ident(table.name)}"
            if table.view_sql is not None:
                source = f"({_qualified(table.view_sql, db)}) AS {_ident(table.name)}"
            statements.append(f"CREATE OR REPLACE TEMP VIEW {_ident(table.name)} AS SELECT {cols} FROM {source}")
        else:
            message = f"table {table.name} is not in the scope of team {team}".replace("'", "''")
            statements.append(f"CREATE OR REPLACE TEMP VIEW {_ident(table.name)} AS "
                              f"SELECT NULL AS denied WHERE error('{message}') IS NULL")
    return statements


def apply_team_views(con: duckdb.DuckDBPyConnection, team: str) -> None:
    """Run :func:`team_view_sql` on ``con`` for its own database (call before ``SET lock_configuration = true``)."""
    (database,) = con.execute("SELECT current_database()").fetchone()
    present = {name for (name,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = 'main'",
        [database]).fetchall()}
    for statement in team_view_sql(team, database, present):
        con.execute(statement)
