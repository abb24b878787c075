"""Rule: no cartesian joins, and DuckDB's own EXPLAIN estimate within the team's cost limit.

The structural half is pure: a join must carry a condition that links the joined source to another source (CROSS
JOIN, a comma join without a linking WHERE predicate, ``ON TRUE``/``ON 1 = 1`` and NATURAL JOIN are refused; UNNEST
and LATERAL are row expansions of the same row and stay allowed). The estimate half runs ``EXPLAIN (FORMAT JSON)`` on
a connection and compares the largest estimated cardinality of any operator with the team's ``cost_limit_rows``.
"""

from __future__ import annotations

import json
from typing import Any

from sqlglot import exp

from guardrails.errors import CartesianJoinError, CostLimitError, ExecutionError
from guardrails.scope import Scope

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


def cost_limit(expression: exp.Expr, scope: Scope, connection: Any = None) -> exp.Expr:
    """Refuse cartesian joins; with a ``connection``, also refuse plans estimated above the scope's cost limit."""
    for select in expression.find_all(exp.Select):
        _check_joins(select)
    if connection is not None:
        estimate = estimated_rows(connection, expression.sql(dialect="duckdb", comments=False))
        if estimate > scope.cost_limit_rows:
            raise CostLimitError(
                f"The query plan is estimated at {estimate:,} rows, above team {scope.name!r}'s limit of "
                f"{scope.cost_limit_rows:,}",
                obj=str(estimate),
                hint="Filter earlier (WHERE on dates, partners or lenders), aggregate, or join on keys.",
            )
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
