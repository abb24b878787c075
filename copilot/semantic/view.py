"""The team's slice of the semantic layer, as the planner and the compiler need it.

The metrics, dimensions, synonyms and sample values all belong to the schema catalog (``schema_catalog``); this
module only adapts the catalog's team view into the few lookups the planner makes per question (cached per team), and
adds the join graph of the warehouse contract (many-to-one ``references`` edges) that the compiler walks.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache

from schema_catalog.semantic import Dimension, DimensionDefinition, Metric, MetricDefinition, load_semantic
from schema_catalog.teams import TeamScope, team_scope
from warehouse.schema import load_schema

JoinEdge = tuple[str, str, str, str]
"""(from_table, from_column, to_table, to_column): following a reference from the many side to the one side."""


@dataclass(frozen=True)
class TeamSemantics:
    """Metrics and dimensions a team may use (only their usable definitions), sample values, and the join graph."""

    team: str
    scope: TeamScope
    metrics: dict[str, Metric]
    dimensions: dict[str, Dimension]
    samples: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """dimension name -> sample values (from the catalog) used to match filter values in questions."""
    edges: dict[str, tuple[JoinEdge, ...]] = field(default_factory=dict)

    def join_path(self, start: str, goal: str) -> list[JoinEdge] | None:
        """Shortest many-to-one join path from ``start`` to ``goal`` inside the team's scope.

        Only many-to-one edges are followed, so joining a dimension never multiplies the metric's rows (a fan-out
        join would silently inflate sums and counts).
        """
        if start == goal:
            return []
        seen = {start}
        queue: deque[tuple[str, list[JoinEdge]]] = deque([(start, [])])
        while queue:
            table, path = queue.popleft()
            for edge in self.edges.get(table, ()):
                nxt = edge[2]
                if nxt in seen:
                    continue
                if nxt == goal:
                    return [*path, edge]
                seen.add(nxt)
                queue.append((nxt, [*path, edge]))
        return None


def _usable(defs: tuple, scope: TeamScope) -> tuple:
    out = []
    for d in defs:
        if d.table != "*" and not scope.allows_table(d.table):
            continue
        if all(scope.allows_column(t, c) for t, c in d.columns):
            out.append(d)
    return tuple(out)


def _edges(scope: TeamScope) -> dict[str, tuple[JoinEdge, ...]]:
    schema = load_schema()
    edges: dict[str, list[JoinEdge]] = {}
    for tname in scope.tables:
        table = schema.tables[tname]
        for col in table.columns:
            if not col.references or not scope.allows_column(tname, col.name):
                continue
            ref_table, _, ref_col = col.references.partition(".")
            if scope.allows_column(ref_table, ref_col):
                edges.setdefault(tname, []).append((tname, col.name, ref_table, ref_col))
    return {k: tuple(v) for k, v in edges.items()}


def _catalog_samples(team: str, dimensions: dict[str, Dimension]) -> dict[str, tuple[str, ...]]:
    """Sample values per dimension from the catalog; the contract's closed ``values`` lists when it has none."""
    samples: dict[str, tuple[str, ...]] = {}
    catalog_samples = None
    try:  # the catalog's sample values (data-derived); import lazily so a missing index never breaks planning
        from schema_catalog import Catalog  # type: ignore[attr-defined]

        catalog_samples = Catalog.for_team(team).sample_values  # type: ignore[attr-defined]
    except Exception:
        catalog_samples = None
    schema = load_schema()
    for name, dim in dimensions.items():
        values: list[str] = []
        for d in dim.definitions:
            for table, column in d.columns:
                found = None
                if catalog_samples is not None:
                    found = catalog_samples.get((table, column)) or catalog_samples.get(f"{table}.{column}")
                if not found:
                    found = schema.tables[table].column(column).values
                values.extend(str(v) for v in found or ())
        if values:
            samples[name] = tuple(dict.fromkeys(values))
    return samples


@lru_cache(maxsize=16)
def team_semantics(team: str) -> TeamSemantics:
    """The team's usable semantic layer (cached; ``team_semantics.cache_clear()`` after the catalog changes)."""
    scope = team_scope(team)
    layer = load_semantic()
    metrics: dict[str, Metric] = {}
    for name, metric in layer.metrics.items():
        defs: tuple[MetricDefinition, ...] = _usable(metric.definitions, scope)
        if defs:
            metrics[name] = Metric(metric.name, metric.label, metric.synonyms, metric.description, metric.format, defs)
    dimensions: dict[str, Dimension] = {}
    for name, dim in layer.dimensions.items():
        ddefs: tuple[DimensionDefinition, ...] = _usable(dim.definitions, scope)
        if ddefs:
            dimensions[name] = Dimension(dim.name, dim.label, dim.kind, dim.synonyms, dim.description, ddefs)
    return TeamSemantics(team, scope, metrics, dimensions, _catalog_samples(team, dimensions), _edges(scope))
