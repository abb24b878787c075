"""Rule: mask every output column whose lineage reaches a PII column (second line of defence for 'masked' teams).

sqlglot's lineage follows each output column through aliases, expressions (``upper(pan)``, ``substr(phone, 1, 5)``,
``concat``, ``CASE``), CTEs, subqueries, set operations and UNNEST down to the table columns it is computed from - by
structure, not by column names. Any output that reaches a PII column is replaced by a stable salted hash of its value
(``substr(md5(salt || value), 1, n)``): equal inputs give equal hashes, so counts, GROUP BY and joins on it still
work, but the value is gone. The salt lives in a DuckDB session variable set by the executor, so it never appears in
the SQL text. Counting is the one derivation that reveals no value: references under ``count(...)`` (also with
DISTINCT, FILTER or OVER) are cut from the lineage before it is traced, so ``count(DISTINCT pan)`` stays unmasked.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node, lineage
from sqlglot.optimizer.scope import build_scope, traverse_scope

from guardrails.errors import PiiAccessError
from guardrails.scope import Scope, sqlglot_schema

COUNTING = (exp.Count, exp.ApproxDistinct)


def _uses_pii(expression: exp.Expr, scope: Scope) -> bool:
    """Cheap pre-check: does any column anywhere resolve to a PII column of a real table?"""
    for sql_scope in traverse_scope(expression):
        for column in sql_scope.columns:
            source = sql_scope.sources.get(column.table)
            if isinstance(source, exp.Table) and scope.is_pii(source.name, column.name):
                return True
    return False


def _without_counts(expression: exp.Expr) -> exp.Expr:
    """Copy with every counting aggregate (and its FILTER/OVER wrapper) replaced by a constant, for lineage only."""

    def replace(node: exp.Expr) -> exp.Expr:
        inner = node
        while isinstance(inner, exp.Filter | exp.Window):
            inner = inner.this
        if isinstance(inner, COUNTING):
            return exp.Literal.number(0)
        return node

    return expression.copy().transform(replace, copy=False)


def _leaf_is_pii(node: Node, scope: Scope) -> bool:
    if not isinstance(node.expression, exp.Table):
        return False
    column = node.name.rsplit(".", 1)[-1].strip('"').lower()
    return scope.is_pii(node.expression.name, column)


def _branches(query: exp.Expr) -> list[exp.Select]:
    if isinstance(query, exp.Select):
        return [query]
    if isinstance(query, exp.Subquery):
        return _branches(query.this)
    if isinstance(query, exp.SetOperation):
        return _branches(query.left) + _branches(query.right)
    return []


def mask_expression(value: exp.Expr, salt_variable: str, length: int) -> exp.Expr:
    """``substr(md5(getvariable(salt) || CAST(value AS VARCHAR)), 1, length)``: NULL stays NULL."""
    salted = exp.DPipe(
        this=exp.Anonymous(this="getvariable", expressions=[exp.Literal.string(salt_variable)]),
        expression=exp.Cast(this=value, to=exp.DataType.build("VARCHAR")),
    )
    return exp.Substring(
        this=exp.MD5(this=salted), start=exp.Literal.number(1), length=exp.Literal.number(length)
    )


def mask_pii(
    expression: exp.Expr,
    scope: Scope,
    dialect: str = "duckdb",
    salt_variable: str = "guardrails_pii_salt",
    mask_length: int = 16,
) -> tuple[exp.Expr, tuple[str, ...]]:
    """Return the query with PII-derived outputs masked, and the names of the masked output columns."""
    if not scope.pii_columns or not _uses_pii(expression, scope):
        return expression, ()
    probe = _without_counts(expression)
    try:
        root = build_scope(probe)
        nodes = lineage(None, probe, sqlglot_schema(scope, dialect), dialect=dialect, scope=root, copy=False)
    except (SqlglotError, ValueError, KeyError) as err:
        raise PiiAccessError(
            f"Could not trace which outputs derive from personal data: {err}",
            hint="Simplify the query (name every output column) or leave PII columns out.",
        ) from None
    outputs = expression.selects if isinstance(expression, exp.Query) else []
    names = [p.alias_or_name for p in outputs]
    masked: list[str] = []
    for index, name in enumerate(names):
        node = nodes.get(name)
        if node is None:
            raise PiiAccessError(
                f"Could not trace output column {name!r}", obj=name, hint="Give every output column a unique name."
            )
        # Duplicate output names share one lineage entry: fail closed and mask them all.
        if names.count(name) > 1 or any(_leaf_is_pii(n, scope) for n in node.walk()):
            masked.append(name)
            for branch in _branches(expression):
                column = branch.expressions[index]
                inner = column.this if isinstance(column, exp.Alias) else column
                alias = column.alias_or_name if isinstance(column, exp.Alias) else name
                column.replace(exp.alias_(mask_expression(inner.copy(), salt_variable, mask_length), alias))
    return expression, tuple(masked)
