"""Rule: only tables and views of the team's scope, referenced by plain name.

Sources are resolved through sqlglot's scope analysis, so a CTE named like a forbidden table shadows it only where it
is really in scope - ``(WITH bureau_reports AS (...) ...) , bureau_reports`` still reads the real table and is caught.
Schema-qualified names (``information_schema.tables``, ``system.main.x``, an attached database), string literals used
as tables (``FROM 'file.csv'``) and table functions (``read_csv(...)``, ``range(...)``, ``query(...)``) are refused.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.scope import Scope as SqlScope
from sqlglot.optimizer.scope import traverse_scope

from guardrails.errors import ParseError, TableFunctionError, UnknownTableError
from guardrails.scope import Scope


def _known(scope: Scope) -> str:
    return ", ".join(sorted(scope.tables))


def allowed_tables(expression: exp.Expr, scope: Scope) -> exp.Expr:
    """Raise unless every table the query reads is in ``scope``."""
    for node in expression.find_all(exp.Table):
        if not isinstance(node.this, exp.Identifier):
            name = node.this.sql_name() if isinstance(node.this, exp.Func) else type(node.this).__name__
            name = node.this.name if isinstance(node.this, exp.Anonymous) else name
            raise TableFunctionError(
                f"Table function {name.lower()!r} is not allowed in FROM",
                obj=name.lower(),
                node=node,
                hint=f"Read only the team's tables ({_known(scope)}); use UNNEST(list) to expand lists.",
            )
        if node.args.get("db") is not None or node.args.get("catalog") is not None:
            raise UnknownTableError(
                f"Schema-qualified table {node.sql(dialect='duckdb')!r} is not allowed",
                obj=node.sql(dialect="duckdb"),
                node=node,
                hint=f"Reference tables by plain name; allowed tables: {_known(scope)}.",
            )
    try:
        scopes: list[SqlScope] = traverse_scope(expression)
    except OptimizeError as err:
        raise ParseError(f"Could not resolve the query's sources: {err}", hint="Simplify the query.") from None
    resolved: set[int] = set()
    for sql_scope in scopes:
        for source in sql_scope.sources.values():
            if isinstance(source, exp.Table):
                resolved.add(id(source))
                if not scope.allows_table(source.name):
                    raise UnknownTableError(
                        f"Table {source.name!r} is not available to team {scope.name!r}",
                        obj=source.name,
                        node=source,
                        hint=f"Use only these tables: {_known(scope)}.",
                    )
    for node in expression.find_all(exp.Table):
        if id(node) in resolved:
            continue
        # Not a real table of any scope: it must be a reference to a CTE visible where it stands.
        if not _is_cte_reference(node):
            raise UnknownTableError(
                f"Could not resolve table {node.name!r}",
                obj=node.name,
                node=node,
                hint=f"Use only these tables: {_known(scope)}.",
            )
    return expression


def _is_cte_reference(table: exp.Table) -> bool:
    """True when an enclosing WITH defines ``table``'s name (the scope walk resolved it to that CTE)."""
    name = table.name.lower()
    parent = table.parent
    while parent is not None:
        with_ = parent.args.get("with_") or parent.args.get("with")
        if isinstance(with_, exp.With) and any(cte.alias_or_name.lower() == name for cte in with_.expressions):
            return True
        parent = parent.parent
    return False
