"""Rule: every query returns at most ``max_rows`` rows.

A missing LIMIT is injected and a larger one clamped. LIMIT and OFFSET must be non-negative integer literals: an
expression or subquery there would let the cap be computed at run time, so it is refused with a precise message.
"""

from __future__ import annotations

from sqlglot import exp

from guardrails.errors import LimitError


def _literal_int(node: exp.Expr | None, what: str) -> int | None:
    if node is None:
        return None
    value = node.expression if isinstance(node, exp.Limit | exp.Offset) else node
    if isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit():
        return int(value.this)
    raise LimitError(
        f"{what} must be a non-negative integer literal, not {value.sql(dialect='duckdb')!r}",
        obj=what,
        node=value,
        hint=f"Write {what} as a plain number such as {what} 100.",
    )


def limit_rows(expression: exp.Expr, max_rows: int = 10_000) -> exp.Expr:
    """Inject ``LIMIT max_rows`` or clamp the query's own limit to it (top level only; inner limits are the query's)."""
    if not isinstance(expression, exp.Query):
        return expression
    limit = expression.args.get("limit")
    if isinstance(limit, exp.Fetch):
        raise LimitError("FETCH FIRST is not supported", obj="FETCH", node=limit, hint="Use LIMIT n instead.")
    options = limit.args.get("limit_options") if limit is not None else None
    if options is not None and options.args.get("percent"):
        raise LimitError("LIMIT ... PERCENT is not allowed", obj="LIMIT", node=limit, hint="Use LIMIT n rows.")
    current = _literal_int(limit, "LIMIT")
    _literal_int(expression.args.get("offset"), "OFFSET")
    if current is None or current > max_rows:
        expression.set("limit", exp.Limit(expression=exp.Literal.number(max_rows)))
    return expression


def row_limit(expression: exp.Expr) -> int:
    """The top-level LIMIT of a validated query (always present after :func:`limit_rows`)."""
    limit = expression.args.get("limit")
    return int(limit.expression.this)


def row_offset(expression: exp.Expr) -> int:
    """The top-level OFFSET of a validated query (0 when absent)."""
    offset = expression.args.get("offset")
    return int(offset.expression.this) if offset is not None else 0
