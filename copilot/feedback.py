"""Analyst feedback: accept an answer (it becomes a verified query) or correct its SQL (stored as a candidate).

Both go through the schema catalog's verified-query store with the guardrails injected as its validator, so a query
is stored only if it passes the same rules (and runs on the replica) as any copilot answer.
"""

from __future__ import annotations

from typing import Any

from copilot import guard
from copilot.errors import FeedbackError
from copilot.models import Answer
from copilot.pipeline import Copilot
from guardrails.errors import GuardrailError


def _store(path: Any = None) -> Any:
    from schema_catalog.verified import VerifiedQueryStore

    return VerifiedQueryStore(path)


def _validator(copilot: Copilot) -> Any:
    """Validate with the guardrails and run the first page on the replica: a stored query must work."""

    def validate(sql: str, team: str) -> None:
        vq = guard.validate_sql(sql, team)
        with copilot._lock:
            guard.execute_page(copilot._executor(), vq, 0)

    return validate


def accept(copilot: Copilot, answer: Answer, user: str, store_path: Any = None) -> Any:
    """Make ``answer``'s question and SQL a verified query (re-validated first); returns the stored record."""
    if not answer.sql or answer.cannot_answer:
        raise FeedbackError("only an answered question with SQL can be accepted")
    from schema_catalog.verified import VerificationFailedError

    try:
        return _store(store_path).accept(answer.team, answer.question, answer.sql, user, _validator(copilot),
                                         source="copilot")
    except (GuardrailError, VerificationFailedError) as err:
        raise FeedbackError(f"the SQL no longer passes the guardrails: {err}") from err


def correct(copilot: Copilot, answer: Answer, sql: str, user: str, store_path: Any = None) -> tuple[Any, Any]:
    """Validate and run the analyst's corrected SQL, then store it as a candidate for review.

    Returns (stored candidate, first result page). Invalid SQL raises :class:`FeedbackError` and stores nothing.
    """
    try:
        vq = guard.validate_sql(sql, answer.team)
        with copilot._lock:
            page = guard.execute_page(copilot._executor(), vq, 0)
    except GuardrailError as err:
        raise FeedbackError(f"the corrected SQL was refused: {err}") from err
    record = _store(store_path).submit(answer.team, answer.question, vq.sql, user, source="correction")
    return record, page
