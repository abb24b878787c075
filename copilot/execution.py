"""The back half of the pipeline: one candidate's SQL -> guardrails -> execution -> answer fields; chart; caption.

Why this is its own module: every way of producing SQL (the semantic planner, the small local model, an
OpenAI-compatible endpoint, an analyst's own SQL through :meth:`copilot.pipeline.Copilot.run_sql`) must reach the
engine through the same door, and that door must not care where the SQL came from. :func:`run_candidate` is that door:
it validates for the team (rules, PII masking by lineage), runs one page on the shared hardened connection, records
the attempt and fills the answer. Charts and captions only read a filled answer. Nothing here knows how SQL is
generated (that is :mod:`copilot.candidates`) or how the chain of candidates is ordered (:mod:`copilot.pipeline`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from copilot import guard
from copilot.captions import template_caption, unsupported_numbers
from copilot.charts import build_chart
from copilot.errors import CopilotError
from copilot.llm.base import CaptionWriter
from copilot.models import Answer, Attempt, RowsPage, SemanticPlan
from copilot.semantic.view import TeamSemantics
from guardrails.errors import GuardrailError
from guardrails.executor import SafeExecutor


class Timer:
    """Wall-clock milliseconds per pipeline stage (a stage entered twice, e.g. repairs, accumulates)."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = round(self.ms.get(name, 0.0) + (time.perf_counter() - t0) * 1000, 3)


def elapsed_ms(t: float) -> float:
    """Milliseconds since the ``time.perf_counter()`` reading ``t``, rounded like every timing the copilot records."""
    return round((time.perf_counter() - t) * 1000, 3)


def run_candidate(answer: Answer, con: SafeExecutor, timer: Timer, sql: str, backend: str, page: int, *,
                  plan: SemanticPlan | None = None, confidence: float, t: float) -> bool:
    """Validate and execute one candidate; record the attempt; fill the answer on success.

    A refusal or an engine failure is an attempt (``rejected`` / ``engine_error``) and a reason on the answer, never
    an exception: the caller decides whether another candidate gets a turn.
    """
    try:
        with timer.stage("validation"):
            vq = guard.validate_sql(sql, answer.team)
    except GuardrailError as err:
        answer.attempts.append(Attempt(backend=backend, outcome="rejected", sql=sql, plan=plan,
                                       confidence=confidence, error=err.to_dict(), ms=elapsed_ms(t)))
        answer.reason = f"the query was refused by the guardrails: {err}"
        return False
    try:
        with timer.stage("execution"):
            result = guard.execute_page(con, vq, page)
    except GuardrailError as err:
        engine = isinstance(err, guard.ENGINE_ERRORS)
        answer.attempts.append(Attempt(backend=backend, outcome="engine_error" if engine else "rejected",
                                       sql=vq.sql, plan=plan, confidence=confidence, error=err.to_dict(),
                                       ms=elapsed_ms(t)))
        answer.reason = f"the query {'failed' if engine else 'was refused'}: {err}"
        return False
    answer.attempts.append(Attempt(backend=backend, outcome="ok", sql=vq.sql, plan=plan, confidence=confidence,
                                   ms=elapsed_ms(t)))
    answer.sql, answer.backend, answer.confidence, answer.reason = vq.sql, backend, confidence, None
    answer.validation = {"passed": True, "tables": sorted(vq.tables), "masked_columns": list(vq.masked_columns),
                         "row_limit": vq.row_limit}
    answer.rows = RowsPage(columns=result.columns, rows=result.rows, page=result.page,
                           page_size=result.page_size, has_more=result.has_more)
    return True


def chart_answer(answer: Answer, timer: Timer, title: str) -> None:
    """The Plotly chart of an answered question (its rows must be filled)."""
    with timer.stage("chart"):
        assert answer.rows is not None
        answer.chart_type, answer.chart = build_chart(answer.rows.columns, answer.rows.rows, title)


def caption_answer(answer: Answer, sem: TeamSemantics, writer: CaptionWriter | None) -> str:
    """One sentence about the rows: the writer's if it is a single sentence whose every number is in the rows, else
    the template (always available, offline)."""
    assert answer.rows is not None
    cols, rows = answer.rows.columns, answer.rows.rows
    if writer is not None:
        try:
            caption = writer.write_caption(answer.question, cols, rows)
            if caption and not unsupported_numbers(caption, cols, rows) and caption.count(". ") == 0:
                return caption
        except CopilotError:
            pass  # the template below is always available
    labels = {k: m.label for k, m in sem.metrics.items()} | {k: d.label for k, d in sem.dimensions.items()}
    window = answer.plan.time_window.label if answer.plan and answer.plan.time_window else ""
    return template_caption(answer.question, cols, rows, labels, window)
