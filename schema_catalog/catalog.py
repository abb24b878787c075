"""The schema catalog: the warehouse contract plus synonyms, sample values, join paths and the semantic layer.

A :class:`Catalog` is either the whole catalog (``team is None``, for the check and the indexer) or one team's slice
from :meth:`Catalog.for_team`, which holds only what the team's scope allows: a consumer that only ever receives a
slice cannot leak another team's tables into a prompt.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

import duckdb

from schema_catalog.semantic import Dimension, Metric, SemanticLayer, load_semantic
from schema_catalog.teams import TeamScope, team_scope
from warehouse.schema import Schema, load_schema

Samples = Mapping[tuple[str, str], tuple[str, ...]]

# Following a reference from the referencing table (many-to-one) never multiplies rows; walking it backwards
# (one-to-many) does, so join paths prefer forward steps.
_FORWARD_COST = 1
_BACKWARD_COST = 3


class NoJoinPathError(LookupError):
    """Two tables cannot be connected with the columns visible in this catalog."""


@dataclass(frozen=True)
class ColumnInfo:
    table: str
    name: str
    type: str
    description: str
    pii: bool
    synonyms: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    """Closed set of allowed values from the contract."""
    samples: tuple[str, ...] = ()
    """Most frequent values seen in the warehouse (never for PII columns)."""
    references: str | None = None

    @property
    def qualified(self) -> str:
        return f"{self.table}.{self.name}"


@dataclass(frozen=True)
class TableInfo:
    name: str
    description: str
    synonyms: tuple[str, ...]
    is_view: bool
    columns: dict[str, ColumnInfo]


@dataclass(frozen=True)
class JoinStep:
    """``JOIN right_table ON left_table.left_column = right_table.right_column``."""

    left_table: str
    left_column: str
    right_table: str
    right_column: str

    @property
    def sql(self) -> str:
        return (
            f"JOIN {self.right_table} ON {self.left_table}.{self.left_column} = "
            f"{self.right_table}.{self.right_column}"
        )


@dataclass(frozen=True)
class Catalog:
    """Tables, columns, metrics and dimensions visible to ``team`` (or everything when ``team`` is None)."""

    tables: dict[str, TableInfo]
    metrics: dict[str, Metric]
    dimensions: dict[str, Dimension]
    team: str | None = None
    scope: TeamScope | None = field(default=None, repr=False)

    # ---- lookups -------------------------------------------------------------------------------------------------
    def column(self, table: str, column: str) -> ColumnInfo:
        return self.tables[table].columns[column]

    def columns(self) -> Iterable[ColumnInfo]:
        for table in self.tables.values():
            yield from table.columns.values()

    def has_column(self, table: str, column: str) -> bool:
        return table in self.tables and column in self.tables[table].columns

    # ---- team slice ----------------------------------------------------------------------------------------------
    def for_team(self, team: str) -> Catalog:
        """Only what ``team`` may see; an unknown team raises :class:`UnknownTeamError` (never a default slice)."""
        if self.team is not None:
            raise ValueError(f"this catalog is already the slice of team {self.team!r}; slice the full catalog")
        scope = team_scope(team)
        tables: dict[str, TableInfo] = {}
        for name, cols in scope.tables.items():
            if name not in self.tables:
                continue
            full = self.tables[name]
            tables[name] = replace(full, columns={c: full.columns[c] for c in cols if c in full.columns})

        def visible(cols: Iterable[tuple[str, str]]) -> bool:
            return all(t in tables and c in tables[t].columns for t, c in cols)

        metrics = {}
        for m in self.metrics.values():
            defs = tuple(d for d in m.definitions if d.table in tables and visible(d.columns))
            if defs:
                metrics[m.name] = replace(m, definitions=defs)
        dimensions = {}
        for d in self.dimensions.values():
            ddefs = tuple(x for x in d.definitions if (x.table == "*" or x.table in tables) and visible(x.columns))
            if ddefs:
                dimensions[d.name] = replace(d, definitions=ddefs)
        return Catalog(tables=tables, metrics=metrics, dimensions=dimensions, team=team, scope=scope)

    # ---- join paths ----------------------------------------------------------------------------------------------
    @cached_property
    def _graph(self) -> dict[str, list[tuple[int, JoinStep]]]:
        """Join graph of this catalog, computed once (the catalog is immutable)."""
        return self._edges()

    def _edges(self) -> dict[str, list[tuple[int, JoinStep]]]:
        graph: dict[str, list[tuple[int, JoinStep]]] = {t: [] for t in self.tables}
        for col in self.columns():
            if not col.references:
                continue
            ref_table, _, ref_col = col.references.partition(".")
            if not self.has_column(ref_table, ref_col):
                continue  # the other end is out of this team's scope: no path through it
            graph[col.table].append((_FORWARD_COST, JoinStep(col.table, col.name, ref_table, ref_col)))
            graph[ref_table].append((_BACKWARD_COST, JoinStep(ref_table, ref_col, col.table, col.name)))
        return graph

    def join_path(self, start: str, goal: str) -> list[JoinStep]:
        """Cheapest chain of joins from ``start`` to ``goal`` using only visible key columns (Dijkstra)."""
        if start not in self.tables or goal not in self.tables:
            raise NoJoinPathError(f"{start!r} or {goal!r} is not a table in this catalog")
        if start == goal:
            return []
        graph = self._graph
        queue: list[tuple[int, int, str, list[JoinStep]]] = [(0, 0, start, [])]
        seen: set[str] = set()
        tie = 0
        while queue:
            cost, _, table, path = heapq.heappop(queue)
            if table == goal:
                return path
            if table in seen:
                continue
            seen.add(table)
            for step_cost, step in sorted(graph[table], key=lambda e: (e[1].right_table, e[1].left_column)):
                if step.right_table not in seen:
                    tie += 1
                    heapq.heappush(queue, (cost + step_cost, tie, step.right_table, [*path, step]))
        raise NoJoinPathError(f"no join path from {start!r} to {goal!r} in {self.team or 'the full'} catalog")

    def joins_connecting(self, root: str, tables: Iterable[str]) -> list[JoinStep]:
        """Joins that connect ``root`` to every table in ``tables`` (union of cheapest paths, each table once)."""
        steps: list[JoinStep] = []
        joined = {root}
        for table in tables:
            if table in joined:
                continue
            for step in self.join_path(root, table):
                if step.right_table not in joined:
                    steps.append(step)
                    joined.add(step.right_table)
        return steps

    def example_query(self, metric: str, dimensions: Iterable[str] = ()) -> str:
        """A runnable ``SELECT dims, metric FROM base JOIN ... GROUP BY ALL`` from the first usable definitions.

        Used by the check to prove every metric/dimension pairing compiles and runs; planners may use it as a
        reference for the intended join semantics.
        """
        m = self.metrics[metric]
        for definition in m.definitions:
            try:
                dims = [self._dimension_sql(d, definition.table, definition.time_column) for d in dimensions]
            except NoJoinPathError:
                continue
            extra = [t for _, t in dims if t not in ("*", definition.table)]
            joins = self.joins_connecting(definition.table, extra)
            select = [f"{sql} AS {name}" for name, (sql, _) in zip(dimensions, dims, strict=True)]
            select.append(f"{definition.sql} AS {m.name}")
            lines = [f"SELECT {', '.join(select)}", f"FROM {definition.table}", *(j.sql for j in joins)]
            if dims:
                lines.append("GROUP BY ALL")
            return "\n".join(lines)
        raise NoJoinPathError(f"metric {metric!r} cannot be sliced by {list(dimensions)} in this catalog")

    def _dimension_sql(self, name: str, base: str, time_column: str | None) -> tuple[str, str]:
        errors = []
        for d in self.dimensions[name].definitions:
            if d.table == "*":
                if time_column is None:
                    errors.append("no time column")
                    continue
                return d.render(time_column), "*"
            try:
                self.join_path(base, d.table)
            except NoJoinPathError as err:
                errors.append(str(err))
                continue
            return d.render(), d.table
        raise NoJoinPathError(f"dimension {name!r} is not reachable from {base!r}: {'; '.join(errors)}")


def build_catalog(samples: Samples | None = None, schema: Schema | None = None,
                  semantic: SemanticLayer | None = None) -> Catalog:
    """The full catalog from the contract and the semantic layer, with ``samples`` from :func:`extract_samples`."""
    schema = schema or load_schema()
    semantic = semantic or load_semantic()
    samples = samples or {}
    tables: dict[str, TableInfo] = {}
    for t in schema.tables.values():
        if t.internal:
            continue  # bookkeeping tables are never analyst context
        cols = {
            c.name: ColumnInfo(
                table=t.name,
                name=c.name,
                type=c.type,
                description=c.description,
                pii=c.pii,
                synonyms=semantic.column_synonyms.get((t.name, c.name), ()),
                values=() if c.pii else c.values,
                samples=() if c.pii else tuple(samples.get((t.name, c.name), ())),
                references=c.references,
            )
            for c in t.columns
        }
        tables[t.name] = TableInfo(t.name, t.description, t.synonyms, t.is_view, cols)
    return Catalog(tables=tables, metrics=dict(semantic.metrics), dimensions=dict(semantic.dimensions))


def sampleable_columns(schema: Schema | None = None, semantic: SemanticLayer | None = None) -> list[tuple[str, str]]:
    """Text columns whose values are worth sampling: never PII, keys, identifiers, views or internal tables."""
    schema = schema or load_schema()
    semantic = semantic or load_semantic()
    out = []
    for t in schema.tables.values():
        if t.internal or t.is_view:
            continue
        for c in t.columns:
            if c.pii or c.primary_key or c.references or c.name.endswith("_id") or c.type.upper() != "VARCHAR":
                continue
            if (t.name, c.name) in semantic.no_samples:
                continue
            out.append((t.name, c.name))
    return out


def extract_samples(con: duckdb.DuckDBPyConnection, limit: int = 100, max_distinct: int = 300,
                    schema: Schema | None = None) -> dict[tuple[str, str], tuple[str, ...]]:
    """Most frequent values of every sampleable column, read from the warehouse (PII columns are never read)."""
    schema = schema or load_schema()
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for table, column in sampleable_columns(schema):
        if schema.tables[table].column(column).pii:  # belt and braces: the PII rule must hold even if edited above
            continue
        (distinct,) = con.execute(f'SELECT count(DISTINCT "{column}") FROM "{table}"').fetchone()
        if not distinct or distinct > max_distinct:
            continue
        rows = con.execute(
            f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL '
            f'GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT {int(limit)}'
        ).fetchall()
        out[(table, column)] = tuple(str(r[0]) for r in rows)
    return out
