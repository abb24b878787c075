"""Answer a plan from a pre-aggregated rollup table when that provably gives the fact table's answer.

The compiler first picks the plan's base (fact) table as always; this module then looks for a rollup of that table
(``warehouse/rollups.py``: few thousand rows instead of millions, filled in every replica) that can compute the same
result. Why it is exact, not approximate:

- every metric needs a definition on the rollup in ``semantic.yaml``, written as additive re-aggregation of the
  fact definition (``avg(x)`` -> ``sum(x_sum) / sum(x_count)``, ``count`` -> ``coalesce(sum(n), 0)``); quantiles and
  distinct counts have none, so such plans stay on the facts;
- the rollup's inner joins drop fact rows without a match, so it is used only when the plan joins (at least) those
  tables anyway, and the plan's inner joins drop the same rows;
- a dimension is either a rollup column computed from the same expression (``bureau_score_band``, ``state``), or
  joined from the foreign key the rollup carries (``partner_id``), exactly as it is joined from the facts;
- rollups are grouped by day, so time windows must be whole dates (they are: :class:`TimeWindow` holds dates) and
  time grains are day, week or month.

Only rollups the replica really holds are used: the pipeline passes them with :func:`rollups_enabled` (an older
replica has none, and then every plan compiles exactly as before).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from copilot.models import SemanticPlan
from copilot.semantic.view import TeamSemantics
from schema_catalog.catalog import JoinStep
from schema_catalog.semantic import MetricDefinition, load_semantic
from warehouse.rollups import load_rollups

_ENABLED: ContextVar[frozenset[str]] = ContextVar("copilot_rollups", default=frozenset())


@contextmanager
def rollups_enabled(tables: Iterable[str]) -> Iterator[None]:
    """Let plans compiled inside this block use these rollup tables (those the replica holds, filled)."""
    token = _ENABLED.set(frozenset(tables))
    try:
        yield
    finally:
        _ENABLED.reset(token)


@dataclass(frozen=True)
class RollupRoute:
    """Where to compute a plan instead of its fact table."""

    table: str
    of: str
    metric_defs: list[MetricDefinition]
    dimensions: dict[str, tuple[str, list[JoinStep]]]
    """dimension name -> (SQL over the rollup or a joined table, join path from the rollup)."""


def _whole_dates(plan: SemanticPlan) -> bool:
    w = plan.time_window
    return w is None or all(x is None or type(x) is dt.date for x in (w.start, w.end))


def route(plan: SemanticPlan, sem: TeamSemantics, base: str,
          base_dims: dict[str, tuple[str, list[JoinStep]]]) -> RollupRoute | None:
    """A rollup of ``base`` that computes ``plan`` exactly, or None.

    ``base_dims`` maps every non-time dimension of the plan (groupings and filters) to its definition and join path
    from ``base``, as the compiler resolved them.
    """
    enabled = _ENABLED.get()
    if not enabled or not _whole_dates(plan):
        return None
    layer = load_semantic()
    joined = {edge.right_table for _, path in base_dims.values() for edge in path}
    for rollup in load_rollups().values():
        if rollup.table not in enabled or rollup.of != base or not rollup.joins <= joined:
            continue
        scope = sem.scope.tables.get(rollup.table)
        if scope is None:
            continue
        in_scope = set(scope)

        def visible(cols: Iterable[tuple[str, str]], table: str = rollup.table,
                    in_scope: set[str] = in_scope) -> bool:
            return all(t == table and c in in_scope for t, c in cols)

        defs = [next((d for d in layer.metrics[m].definitions if d.table == rollup.table and visible(d.columns)), None)
                if m in layer.metrics else None  # column-layer metrics (avg of a column...) have no rollup form
                for m in plan.metrics]
        if any(d is None for d in defs):
            continue
        if (plan.time_window or plan.grain or plan.compare_previous) and not all(d.time for d in defs):  # type: ignore[union-attr]
            continue
        carried = {*rollup.joins, base}
        dims: dict[str, tuple[str, list[JoinStep]]] = {}
        for name, (sql, path) in base_dims.items():
            target = path[-1].right_table if path else base
            own = next((d for d in layer.dimensions[name].definitions
                        if d.table == rollup.table and visible(d.columns)), None) if name in layer.dimensions else None
            if own is not None and target in carried:
                dims[name] = (own.sql, [])
                continue
            # re-root the path at the last step that leaves the fact table or one of the rollup's joined tables
            last = max((i for i, e in enumerate(path) if e.left_table in carried), default=None)
            if last is None or any(e.right_table not in carried for e in path[:last]):
                break  # a column of the fact table itself that the rollup does not keep, or another route
            edge = path[last]
            key = next((c for c, src in rollup.keys.items()
                        if src == f"{edge.left_table}.{edge.left_column}" and c in in_scope), None)
            if key is None:
                break
            dims[name] = (sql, [JoinStep(rollup.table, key, edge.right_table, edge.right_column), *path[last + 1:]])
        else:
            return RollupRoute(rollup.table, base, defs, dims)  # type: ignore[arg-type]
    return None
