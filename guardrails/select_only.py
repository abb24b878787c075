"""Rule: a read-only query and nothing else, anywhere in the tree.

The root must be a query (SELECT or a set operation of SELECTs) and no node anywhere - CTEs, subqueries, set operation
branches - may be a statement that writes, changes settings, touches files or manages the database. Checking the
whole tree, not the first keyword, is what stops ``WITH x AS (DELETE ... RETURNING *) SELECT ...``.
"""

from __future__ import annotations

from sqlglot import exp

from guardrails.errors import ForbiddenStatementError


def _classes(*names: str) -> tuple[type, ...]:
    """Statement classes by name; names missing from this sqlglot version are skipped (the root check still holds)."""
    return tuple(getattr(exp, n) for n in names if isinstance(getattr(exp, n, None), type))


FORBIDDEN = _classes(
    "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "AlterColumn", "AlterRename", "RenameTable",
    "Copy", "Attach", "Detach", "Install", "LoadData", "Pragma", "Set", "SetItem", "Command", "Use", "Transaction",
    "Commit", "Rollback", "Describe", "Show", "Summarize", "Cache", "Uncache", "Refresh", "Analyze", "Grant", "Revoke",
    "Into", "TruncateTable", "Kill", "Export", "Import", "Vacuum", "Checkpoint", "Call", "Returning", "Lock",
)
"""Node types refused anywhere. ``Into`` is ``SELECT ... INTO t`` (a CREATE TABLE in disguise); ``Lock`` is
``FOR UPDATE``; ``Returning`` only exists on writes."""

_HINT = "Only read-only SELECT queries are allowed; remove the statement and query the data with SELECT."


def select_only(expression: exp.Expr) -> exp.Expr:
    """Raise unless ``expression`` is a pure read-only query."""
    if not isinstance(expression, exp.Query):
        kind = type(expression).__name__.upper()
        raise ForbiddenStatementError(f"{kind} statements are not allowed", obj=kind, node=expression, hint=_HINT)
    for node in expression.walk():
        if isinstance(node, FORBIDDEN):
            kind = type(node).__name__.upper()
            raise ForbiddenStatementError(
                f"{kind} is not allowed inside a query", obj=kind, node=node, hint=_HINT
            )
        if isinstance(node, exp.Select) and not node.expressions:
            raise ForbiddenStatementError(
                "SELECT without any output column", obj="SELECT", node=node, hint="List the columns to return."
            )
    return expression
