"""Rule: no cartesian joins, and DuckDB's own EXPLAIN estimate within the team's cost limit.

The structural half is pure: a join must carry a condition that links the joined source to another source (CROSS
JOIN, a comma join without a linking WHERE predicate, ``ON TRUE``/``ON 1 = 1`` and NATURAL JOIN are refused; UNNEST
and LATERAL are row expansions of the same row and stay allowed). The estimate half runs ``EXPLAIN (FORMAT JSON)`` on
a connection, takes the largest estimated cardinality of any operator, lowers it to the provable bound of
:mod:`guardrails.row_bound` where that is smaller (DuckDB's guess for some internal joins is wildly high), and compares
the result with the team's ``cost_limit_rows``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from guardrails.errors import CartesianJoinError, CostLimitError, ExecutionError
from guardrails.row_bound import TableStats, row_bound, table_stats
from guardrails.scope import Scope
from guardrails.settings import get_settings

_HINT = "Join with an explicit condition: JOIN t ON t.key = other.key (or USING (key))."


def _source_alias(node: exp.Expr) -> str:
    return node.alias_or_name.lower()


def _tables_in(condition: exp.Expr | None) -> set[str]:
    if condition is None:
        return set()
    return {c.table.lower() for c in condition.find_all(exp.Column) if c.table}


def _is_expansion(source: exp.Expr) -> bool:
    """UNNEST and LATERAL expand the current row; they cannot multiply unrelated tables."""
    return isinstance(source, exp.Unnest | exp.Lateral) or (
        isinstance(source, exp.Table) and isinstance(source.this, exp.Unnest)
    )


def _where_links(select: exp.Select, alias: str, others: set[str]) -> bool:
    where = select.args.get("where")
    if where is None:
        return False
    for eq in where.find_all(exp.EQ):
        sides = _tables_in(eq)
        if alias in sides and sides & others:
            return True
    return False


def _check_joins(select: exp.Select) -> None:
    from_ = select.args.get("from_") or select.args.get("from")
    if from_ is None:
        return
    seen = {_source_alias(from_.this)}
    for join in select.args.get("joins") or []:
        source = join.this
        alias = _source_alias(source)
        kind = (join.kind or "").upper()
        if _is_expansion(source):
            seen.add(alias)
            continue
        if join.method and join.method.upper() == "NATURAL":
            raise CartesianJoinError(f"NATURAL JOIN with {alias!r} is not allowed", obj=alias, node=join, hint=_HINT)
        if join.args.get("using"):
            seen.add(alias)
            continue
        condition = join.args.get("on")
        linked = alias in _tables_in(condition) and bool(_tables_in(condition) & seen)
        if not linked and kind != "CROSS" and condition is None:
            linked = _where_links(select, alias, seen)
        if not linked:
            what = "CROSS JOIN" if kind == "CROSS" else "join without a condition linking it to the other tables"
            raise CartesianJoinError(f"{what} on {alias!r} is not allowed", obj=alias, node=join, hint=_HINT)
        seen.add(alias)


@dataclass(frozen=True)
class CostEstimate:
    """Both halves of the cost check: DuckDB's plan estimate and the provable bound (``inf`` when none)."""

    planner_rows: int
    """Largest estimated cardinality of any operator in DuckDB's EXPLAIN plan."""
    bound_rows: float
    """Upper bound of the largest intermediate from table sizes and keys (:func:`guardrails.row_bound.row_bound`)."""
    unequal_join_rows: float = 0.0
    """Product of the sides of the largest join linked by no equality (a filtered cross product)."""

    @property
    def rows(self) -> int:
        """What the limit is applied to: the planner's estimate, lowered to the provable bound where that is smaller,
        and raised to the size of any join without an equality (DuckDB can guess such a join at a fraction of its
        cross product: ``b.applicant_id <> d.application_id`` on the full world is planned at 8.7M rows)."""
        rows = self.planner_rows if math.isinf(self.bound_rows) else min(self.planner_rows, int(self.bound_rows))
        return max(rows, int(self.unequal_join_rows)) if math.isfinite(self.unequal_join_rows) else rows


def estimate_cost(
    connection: Any, expression: exp.Expr, *, use_bound: bool = True, stats: dict[str, TableStats] | None = None
) -> CostEstimate:
    """EXPLAIN estimate of ``expression`` on ``connection`` and, with ``use_bound``, its provable row bound."""
    planner = estimated_rows(connection, expression.sql(dialect="duckdb", comments=False))
    if not use_bound:
        return CostEstimate(planner, math.inf)
    bound = row_bound(expression, stats if stats is not None else table_stats(connection))
    return CostEstimate(planner, bound.peak, bound.unequal_join)


def check_estimate(estimate: CostEstimate, limit: int, team: str) -> None:
    """Raise :class:`CostLimitError` when ``estimate.rows`` is above ``limit``."""
    if estimate.rows > limit:
        bound = "" if math.isinf(estimate.bound_rows) else f" (provable bound {estimate.bound_rows:,.0f})"
        raise CostLimitError(
            f"The query plan is estimated at {estimate.rows:,} rows{bound}, above team {team!r}'s limit of "
            f"{limit:,}",
            obj=str(estimate.rows),
            hint="Filter earlier (WHERE on dates, partners or lenders), aggregate, or join on keys.",
        )


def cost_limit(expression: exp.Expr, scope: Scope, connection: Any = None) -> exp.Expr:
    """Refuse cartesian joins; with a ``connection``, also refuse plans estimated above the scope's cost limit."""
    for select in expression.find_all(exp.Select):
        _check_joins(select)
    if connection is not None:
        estimate = estimate_cost(connection, expression, use_bound=get_settings().cost_bound_by_keys)
        check_estimate(estimate, scope.cost_limit_rows, scope.name)
    return expression


def _max_cardinality(node: dict[str, Any]) -> int:
    extra = node.get("extra_info") or {}
    here = 0
    if isinstance(extra, dict):
        raw = extra.get("Estimated Cardinality")
        if raw is not None:
            try:
                here = int(float(str(raw).replace(",", "").lstrip("~")))
            except ValueError:
                here = 0
    return max([here, *(_max_cardinality(child) for child in node.get("children") or [])])


def estimated_rows(connection: Any, sql: str) -> int:
    """Largest estimated cardinality of any operator in DuckDB's plan of ``sql``."""
    try:
        rows = connection.execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchall()
    except Exception as err:  # duckdb.Error subclasses; the guardrails stay importable without duckdb
        raise ExecutionError(f"DuckDB could not plan the query: {err}", hint="Fix the query.") from err
    plans = json.loads(rows[0][1])
    plans = plans if isinstance(plans, list) else [plans]
    return max((_max_cardinality(plan) for plan in plans), default=0)
