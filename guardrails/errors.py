"""One flat tree of typed guardrail errors.

Every rule raises a subclass of :class:`GuardrailError`. The error names the rule that fired, the offending object
(table, column, function, statement type) and where it sits in the SQL, and says how to fix the query: the copilot
feeds ``to_dict()`` back to the model so it can repair its own SQL, and a person reads ``str(error)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlglot import exp


def position(node: exp.Expr | None) -> tuple[int | None, int | None]:
    """Line and column of ``node`` as sqlglot's tokenizer recorded them (on the node or its first identifier)."""
    if node is None:
        return None, None
    for sub in node.walk():
        meta = getattr(sub, "_meta", None)
        if meta and "line" in meta:
            return meta["line"], meta["col"]
    return None, None


class GuardrailError(Exception):
    """Base class: the query was refused. ``code`` is stable and machine-readable."""

    code: ClassVar[str] = "guardrail_error"
    rule: ClassVar[str] = "guardrails"

    def __init__(
        self,
        message: str,
        *,
        obj: str | None = None,
        node: exp.Expr | None = None,
        line: int | None = None,
        col: int | None = None,
        hint: str | None = None,
    ) -> None:
        if node is not None and line is None:
            line, col = position(node)
        self.message = message
        self.obj = obj
        self.line = line
        self.col = col
        self.hint = hint
        where = f" (line {line}, column {col})" if line is not None else ""
        full = f"{message}{where}."
        if hint:
            full += f" {hint}"
        super().__init__(full)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description of the refusal (the shape the CLI prints and the copilot returns to the model)."""
        return {
            "error": self.code,
            "rule": self.rule,
            "message": str(self),
            "object": self.obj,
            "line": self.line,
            "col": self.col,
            "hint": self.hint,
        }


class ParseError(GuardrailError):
    """sqlglot could not parse the text completely (or only as an opaque command)."""

    code = "parse_error"
    rule = "single_statement"


class MultipleStatementsError(GuardrailError):
    """More than one statement (stacked queries) or none at all."""

    code = "multiple_statements"
    rule = "single_statement"


class ForbiddenStatementError(GuardrailError):
    """Anything that is not a read-only SELECT, anywhere in the tree (CTEs and subqueries included)."""

    code = "forbidden_statement"
    rule = "select_only"


class UnknownTableError(GuardrailError):
    """A table or view outside the team's scope, a schema-qualified system table, or a file path used as a table."""

    code = "unknown_table"
    rule = "allowed_tables"


class TableFunctionError(GuardrailError):
    """A table function in FROM (``read_csv(...)``, ``range(...)``, ``query(...)``): only tables and UNNEST."""

    code = "table_function"
    rule = "allowed_tables"


class UnknownColumnError(GuardrailError):
    """A column that is not visible to the team in the table it is read from."""

    code = "unknown_column"
    rule = "qualify_and_check_columns"


class PiiAccessError(GuardrailError):
    """A PII column requested by a team whose policy denies PII, or PII whose lineage could not be traced."""

    code = "pii_access"
    rule = "qualify_and_check_columns"


class ForbiddenFunctionError(GuardrailError):
    """A function outside the analyst allowlist (file readers, settings, system functions, ...)."""

    code = "forbidden_function"
    rule = "allowed_functions"


class LimitError(GuardrailError):
    """A LIMIT or OFFSET that is not a non-negative integer literal."""

    code = "invalid_limit"
    rule = "limit_rows"


class CartesianJoinError(GuardrailError):
    """A join without a condition linking both sides (CROSS JOIN, comma join, ``ON TRUE``, NATURAL JOIN)."""

    code = "cartesian_join"
    rule = "cost_limit"


class CostLimitError(GuardrailError):
    """DuckDB's own EXPLAIN estimates more rows than the team's cost limit."""

    code = "cost_limit"
    rule = "cost_limit"


class QueryTimeoutError(GuardrailError):
    """The query ran longer than the configured timeout and was interrupted."""

    code = "timeout"
    rule = "executor"


class ExecutionError(GuardrailError):
    """DuckDB refused or failed the query at run time (after validation)."""

    code = "execution_error"
    rule = "executor"
