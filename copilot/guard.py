"""The copilot's only doors to the guardrails: validate a query for a team, run a validated query.

Validation (rules, PII masking by lineage) and execution (hardened read-only connection, EXPLAIN cost check, timeout,
pages of rows) belong to ``guardrails``; this adapter only converts their results into the copilot's page shape.
"""

from __future__ import annotations

import threading
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


_executors: dict[str, tuple[int, SafeExecutor]] = {}
_locks: dict[str, threading.RLock] = {}
_registry_lock = threading.Lock()


def replica_lock(replica: Path) -> threading.RLock:
    """One lock per replica file: its shared connection runs one question at a time."""
    key = str(Path(replica).resolve())
    with _registry_lock:
        return _locks.setdefault(key, threading.RLock())


def shared_executor(replica: Path) -> SafeExecutor:
    """The process-wide hardened read-only connection on ``replica`` (call under :func:`replica_lock`).

    Shared because DuckDB gives every connection to one file in a process the same database instance, whose
    configuration the sandbox locks: a second sandbox on the same file would fail to harden. Reopened when the
    replica file was replaced by a newer snapshot.
    """
    key = str(Path(replica).resolve())
    stamp = Path(replica).stat().st_mtime_ns
    with _registry_lock:
        current = _executors.get(key)
        if current is not None and current[0] == stamp:
            return current[1]
        if current is not None:
            current[1].close()
        executor = SafeExecutor(replica)
        _executors[key] = (stamp, executor)
        return executor


def close_executors() -> None:
    """Close every shared connection (tests, shutdown)."""
    with _registry_lock:
        for _, executor in _executors.values():
            executor.close()
        _executors.clear()


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


def validate_and_run(sql: str, team: str) -> None:
    """Guardrails plus a real run of the first page on the default replica: what a verified query must pass.

    The catalog's seed and analyst-accepted queries are checked with this (``python -m schema_catalog index
    --validator copilot.guard:validate_and_run``), so nothing enters retrieval that the guardrails would refuse.
    """
    from warehouse.settings import get_settings

    vq = validate_sql(sql, team)
    replica = get_settings().replica_path
    with replica_lock(replica):
        execute_page(shared_executor(replica), vq, 0)
