"""The copilot's only doors to the guardrails: validate a query for a team, run a validated query.

Validation and execution (timeout, row pages, PII masking by lineage) belong to ``guardrails``; this adapter turns
their results into the copilot's typed objects and their errors into structured dicts for the repair loop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import duckdb

from guardrails.errors import GuardrailError
from guardrails.pipeline import ValidatedQuery, validate
from guardrails.teams import team_scope as guard_scope


class EngineError(Exception):
    """DuckDB failed on a query the guardrails accepted (binder error, bad cast, timeout)."""

    def __init__(self, message: str, *, kind: str = "engine_error") -> None:
        super().__init__(message)
        self.kind = kind

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.kind, "rule": "engine", "message": str(self)}


@dataclass(frozen=True)
class Page:
    columns: list[str]
    rows: list[list[Any]]
    page: int
    page_size: int
    has_more: bool


def validate_sql(sql: str, team: str, con: duckdb.DuckDBPyConnection | None) -> ValidatedQuery:
    """Run every guardrail rule (with EXPLAIN cost checks when ``con`` is given); raises ``GuardrailError``."""
    return validate(sql, guard_scope(team), connection=con)


def _executor() -> Any:
    try:
        from guardrails import executor  # type: ignore[attr-defined]
    except ImportError:
        return None
    return executor


def execute_page(vq: ValidatedQuery, con: duckdb.DuckDBPyConnection, page: int, page_size: int) -> Page:
    """One page of a validated query's rows, through the guardrails' safe executor when it is available.

    Stopgap until ``guardrails.executor`` lands: the same contract inline -- the masking salt as a session variable,
    a timer that interrupts DuckDB, and ``page_size + 1`` rows fetched to know whether more exist.
    """
    executor = _executor()
    if executor is not None and hasattr(executor, "execute_page"):
        result = executor.execute_page(vq, con, page=page, page_size=page_size)
        return Page(list(result.columns), [list(r) for r in result.rows], page, page_size, bool(result.has_more))
    from guardrails.settings import get_settings as guard_settings

    gs = guard_settings()
    con.execute(f"SET VARIABLE {gs.pii_salt_variable} = ?", [gs.pii_salt.get_secret_value()])
    timer = threading.Timer(gs.timeout_seconds, con.interrupt)
    timer.start()
    try:
        cur = con.execute(f"SELECT * FROM ({vq.sql}) AS q LIMIT {page_size + 1} OFFSET {page * page_size}")
        columns = [d[0] for d in cur.description]
        rows = [list(r) for r in cur.fetchall()]
    except duckdb.InterruptException as err:
        raise EngineError(f"query exceeded {gs.timeout_seconds}s and was stopped", kind="timeout") from err
    except duckdb.Error as err:
        raise EngineError(str(err).splitlines()[0]) from err
    finally:
        timer.cancel()
    return Page(columns, rows[:page_size], page, page_size, len(rows) > page_size)


def error_dict(err: Exception) -> dict[str, Any]:
    """Structured form of a guardrail or engine error (what the repair loop shows the model)."""
    if isinstance(err, GuardrailError | EngineError):
        return err.to_dict()
    return {"error": type(err).__name__, "message": str(err)}
