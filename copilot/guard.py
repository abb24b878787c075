"""The copilot's only doors to the guardrails: validate a query for a team, run a validated query.

Validation (rules, PII masking by lineage) and execution (hardened read-only connection, EXPLAIN cost check, timeout,
pages of rows) belong to ``guardrails``; this adapter only converts their results into the copilot's page shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guardrails.errors import ExecutionError, GuardrailError, QueryTimeoutError
from guardrails.executor import SafeExecutor
from guardrails.pipeline import ValidatedQuery, validate
from guardrails.teams import team_scope as guard_scope

ENGINE_ERRORS = (ExecutionError, QueryTimeoutError)
"""Guardrail errors raised while running (the engine failed), as opposed to refusals of the query itself."""


@dataclass(frozen=True)
class Page:
    columns: list[str]
    rows: list[list[Any]]
    page: int
    page_size: int
    has_more: bool


def open_executor(replica: Path) -> SafeExecutor:
    """A hardened read-only connection on the replica (the copilot's only connection)."""
    return SafeExecutor(replica)


def validate_sql(sql: str, team: str) -> ValidatedQuery:
    """Run every guardrail rule for ``team``; raises a ``GuardrailError`` subclass. (The executor checks cost.)"""
    return validate(sql, guard_scope(team))


def execute_page(executor: SafeExecutor, vq: ValidatedQuery, page: int) -> Page:
    """One page of rows; raises CostLimitError, QueryTimeoutError or ExecutionError."""
    result = executor.run(vq, page)
    return Page(list(result.columns), [list(r) for r in result.rows], result.page, executor.settings.page_size,
                result.has_more)


def error_dict(err: Exception) -> dict[str, Any]:
    """Structured form of an error (what the repair loop shows the model)."""
    if isinstance(err, GuardrailError):
        return err.to_dict()
    return {"error": type(err).__name__, "message": str(err)}
