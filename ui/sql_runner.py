"""Run analyst-edited SQL through the copilot's own guardrail path, and turn failures into friendly messages.

An edited query gets no shortcut: it is validated by the same ``guardrails.validate`` for the team (scope, columns,
functions, limits, PII masking by lineage) and runs on the copilot's hardened read-only replica connection, one page
at a time, exactly as ``copilot.feedback.correct`` does. The result is an ordinary :class:`copilot.models.Answer`, so
the page renders it like any copilot answer (chart, caption, table) and the audit log records it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from copilot import guard
from copilot.audit import AuditRecord, write_audit
from copilot.captions import template_caption
from copilot.charts import build_chart
from copilot.models import Answer, Attempt, RowsPage
from copilot.pipeline import Copilot
from guardrails.errors import GuardrailError, QueryTimeoutError

ANALYST_BACKEND = "analyst"
"""``Answer.backend`` of a query the analyst wrote or edited (not generated)."""


def run_sql(copilot: Copilot, sql: str, team: str, user: str, question: str = "", page: int = 0) -> Answer:
    """Validate and run ``sql`` for ``team`` (one page); a refusal or engine error comes back in the answer, typed."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    answer = Answer(question=question or "(edited SQL)", team=team, user=user, backend=ANALYST_BACKEND,
                    explanation=f"SQL written or edited by {user}, run through the {team} team's guardrails.")

    def lap(stage: str, since: float) -> float:
        now = time.perf_counter()
        timings[stage] = round((now - since) * 1000, 3)
        return now

    t = time.perf_counter()
    outcome = "answered"
    try:
        vq = guard.validate_sql(sql, team)
        t = lap("validation", t)
        # The copilot's lock and warm connection: the same path copilot.feedback.correct uses.
        with copilot._lock:
            result = guard.execute_page(copilot._executor(), vq, page)
        t = lap("execution", t)
    except GuardrailError as err:
        lap("validation" if "validation" not in timings else "execution", t)
        engine = isinstance(err, guard.ENGINE_ERRORS)
        answer.cannot_answer, answer.reason, answer.sql = True, str(err), sql
        answer.attempts.append(Attempt(backend=ANALYST_BACKEND, outcome="engine_error" if engine else "rejected",
                                       sql=sql, error=err.to_dict(), ms=timings.get("validation", 0.0)))
        outcome = "timeout" if isinstance(err, QueryTimeoutError) else "error" if engine else "blocked"
    else:
        answer.sql, answer.confidence = vq.sql, 1.0
        answer.validation = {"passed": True, "tables": sorted(vq.tables), "masked_columns": list(vq.masked_columns),
                             "row_limit": vq.row_limit}
        answer.rows = RowsPage(columns=result.columns, rows=result.rows, page=result.page,
                               page_size=result.page_size, has_more=result.has_more)
        answer.attempts.append(Attempt(backend=ANALYST_BACKEND, outcome="ok", sql=vq.sql, confidence=1.0,
                                       ms=timings["validation"] + timings["execution"]))
        answer.chart_type, answer.chart = build_chart(result.columns, result.rows, question or "Edited SQL")
        answer.caption = template_caption(question, result.columns, result.rows)
        lap("chart", t)
    answer.timings = {**timings, "total": round((time.perf_counter() - t0) * 1000, 3)}
    record = AuditRecord(user_name=user, team=team, question=answer.question, sql=answer.sql, outcome=outcome,
                         rows_returned=len(answer.rows.rows) if answer.rows else 0, backend=ANALYST_BACKEND,
                         latency_ms=answer.timings["total"])
    if write_audit(record, copilot.settings.audit_path):
        answer.audit_id = record.audit_id
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
