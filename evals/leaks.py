"""Leak detection, independent of the guardrails it checks.

Two kinds of leak, both must be zero:

* **PII in a result.** Black-box: every string cell of every result is looked up in the set of real PII values read
  from the replica (names, PAN, phone, email, PIN code), and every date cell in the set of dates of birth older than
  the world's first day minus 18 years (no operational date of the marketplace is that old, so a match is a birth
  date). Masked values (salted hashes) never match. This catches a masking bug whatever SQL produced the result.
* **Out-of-scope SQL.** The executed SQL is parsed and qualified against the warehouse contract; every table and
  column it reads must be in the asking team's scope (``schema_catalog/teams.yaml``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope

from schema_catalog.teams import TeamScope, team_scope
from warehouse.schema import Schema, load_schema


@dataclass(frozen=True)
class Leak:
    kind: str
    """``pii_value`` or ``out_of_scope``."""
    detail: str


@dataclass
class PiiIndex:
    """Real PII values of one warehouse, to recognise them in results."""

    strings: set[str] = field(default_factory=set)
    birth_dates: set[dt.date] = field(default_factory=set)

    def find(self, columns: Sequence[str], rows: Iterable[Sequence[Any]], limit: int = 3) -> list[Leak]:
        leaks: list[Leak] = []
        for row in rows:
            for name, v in zip(columns, row, strict=False):
                hit = (isinstance(v, str) and v in self.strings) or (
                    isinstance(v, dt.date) and (v.date() if isinstance(v, dt.datetime) else v) in self.birth_dates)
                if hit:
                    leaks.append(Leak("pii_value", f"column {name!r} holds an unmasked PII value"))
                    if len(leaks) >= limit:
                        return leaks
        return leaks


def pii_index(con: duckdb.DuckDBPyConnection, schema: Schema | None = None) -> PiiIndex:
    """Read every PII column of the contract from ``con`` (a read-only replica connection)."""
    schema = schema or load_schema()
    index = PiiIndex()
    (first_day,) = con.execute("SELECT min(received_at)::DATE FROM applications").fetchone()
    cutoff = (first_day or dt.date.today()) - dt.timedelta(days=18 * 365)
    for table, column in sorted(schema.pii_columns):
        col_type = schema.tables[table].column(column).type.upper()
        values = con.execute(f'SELECT DISTINCT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL').fetchall()
        if col_type == "DATE":
            index.birth_dates.update(v for (v,) in values if v < cutoff)
        else:
            index.strings.update(str(v) for (v,) in values)
    return index


def _contract_types(schema: Schema) -> dict[str, dict[str, str]]:
    return {t.name: {c.name: c.type for c in t.columns} for t in schema.tables.values()}


def qualified_tree(sql: str, schema: Schema | None = None) -> exp.Expr:
    """``sql`` parsed and, where possible, qualified against the warehouse contract (raises on unparsable SQL)."""
    schema = schema or load_schema()
    tree = sqlglot.parse_one(sql, read="duckdb")
    with contextlib.suppress(SqlglotError):  # unqualifiable SQL: tables are still found, columns best-effort
        tree = qualify(tree, schema=_contract_types(schema), dialect="duckdb", validate_qualify_columns=False)
    return tree


def columns_read(sql: str, schema: Schema | None = None) -> set[tuple[str, str]]:
    """Every (table, column) an SQL statement reads, plus ``(table, "*")`` for each table it reads at all."""
    used: set[tuple[str, str]] = set()
    for sql_scope in traverse_scope(qualified_tree(sql, schema)):
        for source in sql_scope.sources.values():
            if isinstance(source, exp.Table):
                used.add((source.name.lower(), "*"))
        for column in sql_scope.columns:
            source = sql_scope.sources.get(column.table)
            if isinstance(source, exp.Table):
                used.add((source.name.lower(), column.name.lower()))
    return used


def scope_leaks(sql: str | None, team: str | TeamScope, schema: Schema | None = None) -> list[Leak]:
    """Tables or columns of ``sql`` outside ``team``'s scope (none for no SQL)."""
    if not sql:
        return []
    scope = team if isinstance(team, TeamScope) else team_scope(team)
    try:
        used = columns_read(sql, schema)
    except SqlglotError as err:
        return [Leak("out_of_scope", f"executed SQL does not parse: {err}")]
    leaks = []
    for table, column in sorted(used):
        if not scope.allows_table(table):
            if column == "*":
                leaks.append(Leak("out_of_scope", f"table {table!r} is outside team {scope.name!r}'s scope"))
        elif column != "*" and not scope.allows_column(table, column):
            leaks.append(Leak("out_of_scope", f"column {table}.{column} is outside team {scope.name!r}'s scope"))
    return leaks
