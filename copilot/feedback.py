"""Analyst feedback: accept an answer (it becomes a verified query) or correct its SQL (stored as a candidate).

Both go through the schema catalog's verified-query store with the guardrails injected as its validator, so a query
is stored only if it passes the same rules (and runs on the replica) as any copilot answer.
"""

from __future__ import annotations

from typing import Any

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
        result = copilot.run_sql(sql, team, "feedback")
        if result.cannot_answer:
            raise FeedbackError(result.reason or "the SQL was refused")

    return validate


def accept(copilot: Copilot, answer: Answer, user: str, store_path: Any = None) -> Any:
    """Make ``answer``'s question and SQL a verified query (re-validated first); returns the stored record."""
    if not answer.sql or answer.cannot_answer:
        raise FeedbackError("only an answered question with SQL can be accepted")
    from schema_catalog.verified import VerificationFailedError

    try:
        return _store(store_path).accept(answer.team, answer.question, answer.sql, user, _validator(copilot),
                                         source="copilot")
    except (GuardrailError, VerificationFailedError, FeedbackError) as err:
        raise FeedbackError(f"the SQL no longer passes the guardrails: {err}") from err


def correct(copilot: Copilot, answer: Answer, sql: str, user: str, store_path: Any = None) -> tuple[Any, Any]:
    """Validate and run the analyst's corrected SQL, then store it as a candidate for review.

    Returns (stored candidate, first result page). Invalid SQL raises :class:`FeedbackError` and stores nothing.
    """
    result = copilot.run_sql(sql, answer.team, user)
    if result.cannot_answer or result.rows is None or result.sql is None:
        raise FeedbackError(f"the corrected SQL was refused: {result.reason}")
    record = _store(store_path).submit(answer.team, answer.question, result.sql, user, source="correction")
    return record, result.rows
