"""Rule: the text is exactly one statement that sqlglot parses completely.

Anything sqlglot cannot parse fully is rejected rather than guessed at: an ``exp.Command`` is sqlglot's fallback for
syntax it does not model (``LOAD``, ``CALL``, ``VACUUM``...), so it is refused wherever it appears.
"""

from __future__ import annotations

import logging

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, TokenError
from sqlglot.errors import ParseError as SqlglotParseError

from guardrails.errors import MultipleStatementsError, ParseError

_HINT = "Send exactly one SELECT statement (optionally starting with WITH), without a trailing second statement."


class _Quiet(logging.Filter):
    """sqlglot warns before falling back to Command; the rule reports that itself, so the warning is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_Quiet())


def single_statement(sql: str, dialect: str = "duckdb") -> exp.Expr:
    """Parse ``sql`` into exactly one expression or raise."""
    if not sql or not sql.strip():
        raise ParseError("Empty query", hint="Send one SELECT statement.")
    if "\x00" in sql:
        raise ParseError("The query contains a NUL byte", hint="Remove control characters from the SQL text.")
    try:
        statements = sqlglot.parse(sql, read=dialect, error_level=ErrorLevel.RAISE)
    except SqlglotParseError as err:
        first = err.errors[0] if err.errors else {}
        raise ParseError(
            f"Could not parse the SQL: {first.get('description', str(err)).strip()}",
            obj=first.get("highlight") or None,
            line=first.get("line"),
            col=first.get("col"),
            hint="Fix the syntax; DuckDB SQL is expected.",
        ) from None
    except TokenError as err:
        raise ParseError(f"Could not tokenize the SQL: {err}", hint="Check quotes and comments are closed.") from None
    statements = [s for s in statements if s is not None]
    if len(statements) != 1:
        extra = statements[1] if len(statements) > 1 else None
        raise MultipleStatementsError(
            f"Expected exactly one statement, got {len(statements)}",
            obj=type(extra).__name__.upper() if extra is not None else None,
            node=extra,
            hint=_HINT,
        )
    expression = statements[0]
    command = expression if isinstance(expression, exp.Command) else expression.find(exp.Command)
    if command is not None:
        keyword = str(command.this).upper()
        raise ParseError(
            f"Unsupported statement or syntax {keyword!r} (parsed only as an opaque command)",
            obj=keyword,
            node=command,
            hint="Only plain SELECT queries are allowed.",
        )
    return expression
