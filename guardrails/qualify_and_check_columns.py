"""Rule: qualify every column against the team's schema and refuse columns the team cannot see.

sqlglot's ``qualify`` resolves each column to its source, expands ``*`` into the team's visible columns only, and
rewrites select-alias references, so the SQL that runs is explicit. Then every column reference is checked: it must
come from a source of its scope, and when the source is a real table, the column must be visible to the team. PII
columns withheld from the team raise :class:`PiiAccessError` so the reason is clear.
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope as SqlScope
from sqlglot.optimizer.scope import find_all_in_scope, traverse_scope

from guardrails.errors import PiiAccessError, UnknownColumnError
from guardrails.scope import Scope, sqlglot_schema


def _visible(scope: Scope, table: str) -> str:
    return ", ".join(scope.tables.get(table, {})) or "(none)"


def qualify_and_check_columns(expression: exp.Expr, scope: Scope, dialect: str = "duckdb") -> exp.Expr:
    """Return the qualified expression; raise on a column the team may not read or that does not exist."""
    try:
        qualified = qualify(
            expression,
            schema=sqlglot_schema(scope, dialect),
            dialect=dialect,
            validate_qualify_columns=False,
            identify=False,
            quote_identifiers=False,
        )
    except (OptimizeError, SqlglotError) as err:
        _raise_from_qualify(err, expression, scope)
    row = qualified.find(exp.TableColumn)
    if row is not None:
        raise UnknownColumnError(
            f"Reading the whole row of {row.name!r} as one value is not allowed",
            obj=row.name,
            node=row,
            hint="List the columns you need (or use *).",
        )
    seen: set[int] = set()
    for sql_scope in traverse_scope(qualified):
        for column in find_all_in_scope(sql_scope.expression, exp.Column):
            seen.add(id(column))
            _check_column(column, sql_scope, scope)
    for column in qualified.find_all(exp.Column):
        if id(column) not in seen and not _is_lambda_variable(column):
            raise UnknownColumnError(
                f"Could not resolve column {column.sql(dialect=dialect)!r}", obj=column.name, node=column
            )
    return qualified


def _raise_from_qualify(err: Exception, expression: exp.Expr, scope: Scope) -> None:
    """Turn sqlglot's qualification error into a precise error naming the column, its table and position."""
    match = re.search(r"Unknown column: (\S+)", str(err))
    if match:
        name = match.group(1).strip("'\"").lower()
        for column in expression.find_all(exp.Column):
            if column.name.lower() != name:
                continue
            tables = {t.alias_or_name.lower(): t.name.lower() for t in expression.find_all(exp.Table)}
            table = tables.get(column.table.lower(), column.table.lower()) if column.table else ""
            if table and scope.is_hidden_pii(table, name):
                raise PiiAccessError(
                    f"Column {table}.{name} is personal data (PII) and team {scope.name!r} may not read it",
                    obj=f"{table}.{name}",
                    node=column,
                    hint="Remove the column; aggregate without personal data instead.",
                ) from None
            raise UnknownColumnError(
                f"Unknown column {name!r}" + (f" in table {table!r}" if table else ""),
                obj=f"{table}.{name}" if table else name,
                node=column,
                hint=f"Visible columns of {table}: {_visible(scope, table)}." if table in scope.tables
                else "Use a column of the tables in FROM; check the spelling and the table alias.",
            ) from None
    raise UnknownColumnError(
        f"Could not resolve the query's columns: {err}",
        hint=f"Qualify columns with their table alias; team {scope.name!r} sees: {', '.join(sorted(scope.tables))}.",
    ) from None


def _is_lambda_variable(column: exp.Column) -> bool:
    """Lambda parameters (``x -> x + 1``) look like columns but are bound by the lambda, not a table."""
    parent = column.parent
    while parent is not None:
        if isinstance(parent, exp.Lambda) and any(p.name == column.name for p in parent.expressions):
            return True
        parent = parent.parent
    return False


def _check_column(column: exp.Column, sql_scope: SqlScope, scope: Scope) -> None:
    if _is_lambda_variable(column):
        return
    table_alias = column.table
    name = column.name
    source = sql_scope.sources.get(table_alias) if table_alias else None
    if source is None:
        if not table_alias and _is_select_alias(column, sql_scope):
            return
        candidates = [t for t in scope.tables if scope.is_hidden_pii(t, name)]
        if candidates:
            raise PiiAccessError(
                f"Column {name!r} is personal data (PII) and team {scope.name!r} may not read it",
                obj=name,
                node=column,
                hint="Remove the column; aggregate without personal data instead.",
            )
        where = f" in {table_alias!r}" if table_alias else ""
        raise UnknownColumnError(
            f"Unknown column {name!r}{where}",
            obj=f"{table_alias}.{name}" if table_alias else name,
            node=column,
            hint="Use a column of the tables in FROM; check the spelling and the table alias.",
        )
    if isinstance(source, exp.Table):
        table = source.name.lower()
        if scope.allows_column(table, name):
            return
        if scope.is_hidden_pii(table, name):
            raise PiiAccessError(
                f"Column {table}.{name} is personal data (PII) and team {scope.name!r} may not read it",
                obj=f"{table}.{name}",
                node=column,
                hint="Remove the column; aggregate without personal data instead.",
            )
        raise UnknownColumnError(
            f"Table {table!r} has no column {name!r} visible to team {scope.name!r}",
            obj=f"{table}.{name}",
            node=column,
            hint=f"Visible columns of {table}: {_visible(scope, table)}.",
        )


def _is_select_alias(column: exp.Column, sql_scope: SqlScope) -> bool:
    """An unqualified name outside the projections that refers to a projection alias (ORDER BY total, QUALIFY rn)."""
    select = sql_scope.expression
    if not isinstance(select, exp.Select):
        return False
    node: exp.Expr | None = column
    while node is not None and node is not select:
        if node.parent is select and node.arg_key == "expressions":
            return False  # inside a projection: a bare name there must be a real column
        node = node.parent
    return any(isinstance(p, exp.Alias) and p.alias == column.name for p in select.expressions)
