"""The catalog check: every warehouse column is described and every metric and dimension runs on a real warehouse.

Run with ``python -m schema_catalog check [--warehouse PATH]``; the test suite runs it on an empty migrated warehouse
(SQL that binds on empty tables is valid SQL) and on the generated small world.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from schema_catalog.catalog import Catalog, NoJoinPathError, build_catalog
from schema_catalog.teams import load_teams
from warehouse.schema import Schema, load_schema


class CatalogCheckError(RuntimeError):
    """The catalog check found problems; ``problems`` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} catalog problem(s):\n- " + "\n- ".join(problems))
        self.problems = problems


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    queries_run: int = 0

    def raise_if_failed(self) -> None:
        if self.problems:
            raise CatalogCheckError(self.problems)


def _run(con: duckdb.DuckDBPyConnection, sql: str, what: str, report: CheckReport) -> None:
    report.queries_run += 1
    try:
        con.execute(sql).fetchall()
    except duckdb.Error as err:
        report.problems.append(f"{what} does not run: {err.__class__.__name__}: {str(err).splitlines()[0]}\n{sql}")


def check_descriptions(schema: Schema) -> list[str]:
    """Every table and column of the contract (internal ones too) must say what it is."""
    problems = []
    for t in schema.tables.values():
        if not t.description:
            problems.append(f"table {t.name} has no description")
        problems += [f"column {t.name}.{c.name} has no description" for c in t.columns if not c.description]
    return problems


def check_catalog(con: duckdb.DuckDBPyConnection, catalog: Catalog | None = None,
                  schema: Schema | None = None) -> CheckReport:
    """Check descriptions, contract vs database columns, every definition, and every metric x dimension pairing."""
    schema = schema or load_schema()
    catalog = catalog or build_catalog(schema=schema)
    report = CheckReport(problems=check_descriptions(schema))
    existing: dict[str, set[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
    ).fetchall():
        existing.setdefault(table, set()).add(column)
    for t in schema.tables.values():
        missing = set(t.column_names) - existing.get(t.name, set())
        if missing:
            report.problems.append(f"warehouse lacks {t.name}.{sorted(missing)} (run migrations)")
    for m in catalog.metrics.values():
        if not m.description:
            report.problems.append(f"metric {m.name} has no description")
        for d in m.definitions:
            time = f", min({d.time_column})" if d.time_column else ""
            _run(con, f"SELECT {d.sql}{time} FROM {d.table}", f"metric {m.name} on {d.table}", report)
    for dim in catalog.dimensions.values():
        for dd in dim.definitions:
            if dd.table != "*":
                _run(con, f"SELECT {dd.sql} FROM {dd.table} LIMIT 5", f"dimension {dim.name} on {dd.table}", report)
    seen: set[str] = set()
    for team in sorted(load_teams()):
        sliced = catalog.for_team(team)
        for metric in sliced.metrics:
            for dim in sliced.dimensions:
                try:
                    sql = sliced.example_query(metric, [dim])
                except NoJoinPathError:
                    continue  # not combinable for this team: the planner will say so, nothing to run
                if sql not in seen:
                    seen.add(sql)
                    _run(con, sql + "\nLIMIT 5", f"[{team}] {metric} by {dim}", report)
    return report
