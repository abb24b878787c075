"""Run gold questions through the copilot and score each one against its gold SQL.

Each conversation (a root question and its follow-ups) is asked in one :class:`copilot.conversation.Conversation`, in
file order. The gold SQL runs on its own read-only connection to the same replica, outside the guardrails (gold SQL
is trusted; it may read what the asking team may not, which is the point of scoring against it). Nothing is written
except the copilot's audit log, which is redirected next to the report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel
from tqdm import tqdm

from copilot.conversation import Conversation
from copilot.errors import CopilotError
from copilot.models import Answer
from copilot.pipeline import Copilot
from copilot.settings import CopilotSettings
from evals.classify import Cause, Outcome, classify
from evals.compare import Comparison, compare_results
from evals.gold import GoldQuestion, GoldSet, load_gold
from evals.leaks import PiiIndex, pii_index, scope_leaks
from warehouse.db import connect_reader


class QuestionResult(BaseModel):
    """Everything measured for one question with one backend."""

    id: str
    team: str
    question: str
    split: str
    tags: list[str]
    topic: str
    expect: str
    backend: str
    answered_by: str | None = None
    outcome: Outcome
    correct: bool | None = None
    """Execution match for answerable questions; None for unanswerable ones and when the gold SQL failed."""
    abstained: bool
    cause: Cause
    comparison: str = ""
    sql: str | None = None
    gold_sql: str | None = None
    gold_rows: int | None = None
    pred_rows: int | None = None
    truncated: bool = False
    sql_generated: bool = False
    guardrail_passed: bool = False
    sql_executed: bool = False
    leaks: list[str] = []
    latency_ms: float
    timings: dict[str, float] = {}
    error: str | None = None


def outcome_of(answer: Answer) -> Outcome:
    """The audit-style outcome of an answer, from its attempts."""
    if answer.rows is not None:
        return "answered"
    errors = [a.error or {} for a in answer.attempts]
    if any(e.get("error") == "timeout" for e in errors):
        return "timeout"
    if any(a.outcome == "rejected" for a in answer.attempts):
        return "blocked"
    if any(a.outcome in ("engine_error", "unavailable") for a in answer.attempts):
        return "error"
    return "cannot_answer"


class GoldRunner:
    """Executes gold SQL on a read-only connection and caches results per query text."""

    def __init__(self, replica: Path) -> None:
        self.con = connect_reader(replica)
        self._cache: dict[str, tuple[list[str], list[tuple[Any, ...]]] | str] = {}

    def run(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]] | str:
        """(columns, rows), or the engine's error message when the gold query itself fails."""
        if sql not in self._cache:
            try:
                cur = self.con.execute(sql)
                self._cache[sql] = ([d[0] for d in cur.description], cur.fetchall())
            except duckdb.Error as err:
                self._cache[sql] = f"{type(err).__name__}: {err}"
        return self._cache[sql]

    def close(self) -> None:
        self.con.close()


def make_copilot(replica: Path, audit_dir: Path, *, use_retrieval: bool = True) -> Copilot:
    """A Copilot on ``replica`` whose audit log goes to ``audit_dir`` (never data/)."""
    audit_dir.mkdir(parents=True, exist_ok=True)
    settings = CopilotSettings(audit_path=audit_dir / "audit.jsonl", replica_path=replica)
    return Copilot(settings, replica=replica, use_retrieval=use_retrieval)


def score_answer(q: GoldQuestion, split: str, backend: str, answer: Answer | None, latency_ms: float,
                 gold: GoldRunner, pii: PiiIndex, error: str | None = None) -> QuestionResult:
    """Score one answer (``None`` when the copilot raised) against the gold question."""
    outcome: Outcome = outcome_of(answer) if answer is not None else "error"
    comparison: Comparison | None = None
    gold_rows: int | None = None
    pred_rows = len(answer.rows.rows) if answer is not None and answer.rows is not None else None
    leaks: list[str] = []
    if answer is not None:
        if answer.rows is not None:
            leaks += [leak.detail for leak in pii.find(answer.rows.columns, answer.rows.rows)]
        for a in answer.attempts:  # every executed or proposed SQL, not only the final one
            if a.outcome == "ok":
                leaks += [leak.detail for leak in scope_leaks(a.sql, q.team)]
    correct: bool | None = None
    if q.answerable and q.sql:
        result = gold.run(q.sql)
        if isinstance(result, str):
            error = f"gold SQL failed: {result}"
        else:
            gold_rows = len(result[1])
            if answer is not None and answer.rows is not None:
                comparison = compare_results(result[0], result[1], answer.rows.columns, answer.rows.rows,
                                             ordered=q.ordered)
            correct = comparison is not None and comparison.match
    cause = classify(answerable=q.answerable, outcome=outcome, comparison=comparison, gold_sql=q.sql,
                     pred_sql=answer.sql if answer is not None else None)
    if q.answerable and correct is None:
        cause = "error"
    attempts = answer.attempts if answer is not None else []
    with_sql = [a for a in attempts if a.sql]
    return QuestionResult(
        id=q.id, team=q.team, question=q.q, split=split, tags=list(q.tags), topic=q.topic, expect=q.expect,
        backend=backend, answered_by=answer.backend if answer is not None else None, outcome=outcome,
        correct=correct, abstained=outcome != "answered", cause=cause,
        comparison=f"{comparison.reason}: {comparison.detail}" if comparison is not None else "",
        sql=answer.sql if answer is not None else None, gold_sql=q.sql, gold_rows=gold_rows, pred_rows=pred_rows,
        truncated=bool(answer is not None and answer.rows is not None and answer.rows.has_more),
        sql_generated=bool(with_sql), guardrail_passed=any(a.outcome in ("ok", "engine_error") for a in with_sql),
        sql_executed=any(a.outcome == "ok" for a in with_sql), leaks=leaks, latency_ms=round(latency_ms, 3),
        timings=answer.timings if answer is not None else {},
        error=error or (answer.reason if answer is not None and outcome == "error" else None),
    )


def conversations(gold: GoldSet, questions: Iterable[GoldQuestion]) -> list[list[GoldQuestion]]:
    """Group questions into conversations (root first, follow-ups in file order)."""
    groups: dict[str, list[GoldQuestion]] = {}
    for q in questions:
        groups.setdefault(gold.root_of(q).id, []).append(q)
    return list(groups.values())


def run_questions(
    questions: list[GoldQuestion],
    *,
    backend: str,
    replica: Path,
    out_dir: Path,
    gold_set: GoldSet | None = None,
    use_retrieval: bool = True,
    progress: bool = True,
    copilot_factory: Callable[[], Copilot] | None = None,
) -> list[QuestionResult]:
    """Ask every question with ``backend`` and score it; returns one result per question, in input order."""
    gold_set = gold_set or load_gold()
    copilot = copilot_factory() if copilot_factory else make_copilot(replica, out_dir, use_retrieval=use_retrieval)
    gold = GoldRunner(replica)
    pii = pii_index(gold.con)
    results: dict[str, QuestionResult] = {}
    bar = tqdm(total=len(questions), desc=f"evals [{backend}]", unit="q", disable=not progress)
    try:
        for convo in conversations(gold_set, questions):
            chat = Conversation(copilot, team=convo[0].team, user="evals", backend=backend)
            for q in convo:
                t0 = time.perf_counter()
                answer: Answer | None = None
                error = None
                try:
                    answer = chat.ask(q.q)
                except CopilotError as err:
                    error = f"{err.code}: {err.message}"
                latency = (time.perf_counter() - t0) * 1000
                results[q.id] = score_answer(q, gold_set.split_of(q), backend, answer, latency, gold, pii, error)
                bar.update(1)
    finally:
        bar.close()
        gold.close()
        copilot.close()
    return [results[q.id] for q in questions]
