"""Run analyst-edited SQL through the copilot's own guardrail path, and turn failures into friendly messages.

An edited query gets no shortcut: it is validated by the same ``guardrails.validate`` for the team (scope, columns,
functions, limits, PII masking by lineage) and runs on the copilot's hardened read-only replica connection, one page
at a time, exactly as ``copilot.feedback.correct`` does. The result is an ordinary :class:`copilot.models.Answer`, so
the page renders it like any copilot answer (chart, caption, table) and the audit log records it.
"""

from __future__ import annotations

from dataclasses import dataclass

from copilot.captions import template_caption
from copilot.models import Answer
from copilot.pipeline import Copilot

ANALYST_BACKEND = "analyst"
"""``Answer.backend`` of a query the analyst wrote or edited (not generated)."""


def run_sql(copilot: Copilot, sql: str, team: str, user: str, question: str = "", page: int = 0) -> Answer:
    """Validate and run ``sql`` for ``team`` (one page) through :meth:`Copilot.run_sql` -- the copilot's own
    guardrails, hardened connection, paging, chart and audit; a refusal or engine error comes back in the answer.

    The page labels it as the analyst's SQL (backend ``analyst``) under the question it refines.
    """
    answer = copilot.run_sql(sql, team, user, page=page)
    answer.backend = ANALYST_BACKEND
    answer.question = question or "(edited SQL)"
    answer.explanation = f"SQL written or edited by {user}, run through the {team} team's guardrails."
    if answer.rows is not None and not answer.cannot_answer:
        answer.caption = template_caption(question, answer.rows.columns, answer.rows.rows)
    return answer


@dataclass(frozen=True)
class Problem:
    """What went wrong, said for a person: a kind (for styling and tests), a title, details and what to try."""

    kind: str  # blocked | timeout | engine_error | unavailable | cannot_answer
    title: str
    detail: str
    suggestion: str
    hint: str | None = None


def describe_problem(answer: Answer) -> Problem | None:
    """The friendly message for an answer without rows; ``None`` when the answer has rows."""
    if answer.rows is not None and not answer.cannot_answer:
        return None
    errors = [a for a in answer.attempts if a.error and a.outcome in ("rejected", "engine_error")]
    last = errors[-1] if errors else None
    err = last.error if last else {}
    code = (err or {}).get("error")
    if code == "timeout":
        return Problem("timeout", "The query took too long and was stopped",
                       str(err.get("message") or answer.reason),
                       "Narrow it down: a shorter date window (e.g. 'last 7 days'), one partner or lender, or a "
                       "daily/weekly aggregate instead of row-level detail.")
    if last is not None and last.outcome == "rejected":
        rule = err.get("rule") or code or "guardrails"
        return Problem("blocked", f"Blocked by the guardrails ({rule})", str(err.get("message") or answer.reason),
                       "Only read-only SELECTs over your team's tables and columns can run. Ask about a metric "
                       "(approval rate, decisions, disbursed amount...) by partner, lender or date instead.",
                       hint=err.get("hint"))
    if last is not None:
        return Problem("engine_error", "The query failed in the warehouse", str(err.get("message") or answer.reason),
                       "Check column names and types against the retrieved context, or start from an example "
                       "question and edit its SQL.")
    if any(a.outcome == "unavailable" for a in answer.attempts):
        return Problem("unavailable", "I couldn't answer, and the language-model fallback is unavailable",
                       answer.reason or "",
                       "Rephrase the question with a metric and a dimension the catalog knows, e.g. 'approval rate by "
                       "partner last 7 days'.")
    return Problem("cannot_answer", "I can't answer that from your team's data",
                   answer.reason or "the question does not map onto your team's metrics",
                   "Try one of the example questions, or name a metric (approval rate, decisions, disbursed amount), "
                   "a breakdown (by partner, lender, purpose) and a window (last 30 days).")
