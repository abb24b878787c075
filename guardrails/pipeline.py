"""The validation pipeline: a plain tuple of rules applied in order, like sqlglot's optimizer.

Each rule is a pure function over the expression tree that returns it (possibly rewritten) or raises a
:class:`~guardrails.errors.GuardrailError`. Rules declare the context they need by parameter name (``scope``,
``dialect``, ``connection``, ``max_rows``); :func:`validate` passes exactly those, as sqlglot's ``optimize`` does.
The SQL that runs is sqlglot's rendering of the validated tree, never the original text, so what was checked is
what executes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

from guardrails.allowed_functions import allowed_functions
from guardrails.allowed_tables import allowed_tables
from guardrails.cost_limit import cost_limit
from guardrails.limit_rows import limit_rows, row_limit, row_offset
from guardrails.mask_pii import mask_pii
from guardrails.qualify_and_check_columns import qualify_and_check_columns
from guardrails.scope import Scope
from guardrails.select_only import select_only
from guardrails.settings import get_settings
from guardrails.single_statement import single_statement

Rule = Callable[..., exp.Expr]

RULES: tuple[Rule, ...] = (
    select_only,
    allowed_tables,
    qualify_and_check_columns,
    allowed_functions,
    cost_limit,
    limit_rows,
)
"""Rules after parsing (:func:`single_statement`), in order. Masking runs last, over the checked tree."""


@dataclass(frozen=True)
class ValidatedQuery:
    """A query that passed every rule: the SQL to run and what it touches."""

    sql: str
    expression: exp.Expr = field(repr=False)
    team: str
    tables: frozenset[str]
    columns: frozenset[tuple[str, str]]
    masked_columns: tuple[str, ...]
    output_columns: tuple[str, ...]
    row_limit: int
    row_offset: int
    cost_limit_rows: int


def _call(rule: Rule, expression: exp.Expr, context: dict[str, Any]) -> exp.Expr:
    params = inspect.signature(rule).parameters
    return rule(expression, **{name: context[name] for name in params if name in context})


def _used(expression: exp.Expr) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    tables: set[str] = set()
    columns: set[tuple[str, str]] = set()
    for sql_scope in traverse_scope(expression):
        for source in sql_scope.sources.values():
            if isinstance(source, exp.Table):
                tables.add(source.name.lower())
        for column in sql_scope.columns:
            source = sql_scope.sources.get(column.table)
            if isinstance(source, exp.Table):
                columns.add((source.name.lower(), column.name.lower()))
    return frozenset(tables), frozenset(columns)


def validate(
    sql: str,
    scope: Scope,
    *,
    dialect: str = "duckdb",
    connection: Any = None,
    rules: tuple[Rule, ...] = RULES,
) -> ValidatedQuery:
    """Validate ``sql`` for ``scope``; with a DuckDB ``connection`` the EXPLAIN cost check runs too."""
    settings = get_settings()
    context: dict[str, Any] = {
        "scope": scope,
        "dialect": dialect,
        "connection": connection,
        "max_rows": settings.max_rows,
    }
    expression = single_statement(sql, dialect)
    for rule in rules:
        expression = _call(rule, expression, context)
    tables, columns = _used(expression)
    expression, masked = mask_pii(
        expression,
        scope,
        dialect=dialect,
        salt_variable=settings.pii_salt_variable,
        mask_length=settings.mask_length,
    )
    return ValidatedQuery(
        sql=expression.sql(dialect=dialect, comments=False),  # comments never reach the engine
        expression=expression,
        team=scope.name,
        tables=tables,
        columns=columns,
        masked_columns=masked,
        output_columns=tuple(p.alias_or_name for p in expression.selects),
        row_limit=row_limit(expression),
        row_offset=row_offset(expression),
        cost_limit_rows=scope.cost_limit_rows,
    )
