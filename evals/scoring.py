"""Aggregate per-question results into the scoreboard's metrics, overall and per tag, topic and team.

Definitions (also in docs/evals.md):

* execution accuracy = answerable questions whose result matched gold / answerable questions scored (a question whose
  *gold* SQL failed is excluded and reported as ``gold_errors``);
* valid-SQL rate = answerable questions where SQL was generated and ran without an engine error / answerable
  questions where SQL was generated;
* guardrail-pass rate = answerable questions where generated SQL passed the guardrails / answerable questions where
  SQL was generated;
* abstention precision = unanswerable among abstentions (any question not answered with rows); abstention recall =
  abstentions among unanswerable questions;
* leaks = questions with any PII value or out-of-scope column (every question, answerable or not);
* latency = wall-clock per question, p50 and p95 (numpy's linear interpolation), over every question.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
from pydantic import BaseModel

from evals.runner import QuestionResult


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


class Metrics(BaseModel):
    """Metrics of one group of questions."""

    n: int
    answerable: int
    scored: int
    correct: int
    execution_accuracy: float | None
    valid_sql_rate: float | None
    guardrail_pass_rate: float | None
    unanswerable: int
    abstentions: int
    abstention_precision: float | None
    abstention_recall: float | None
    leaks: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    gold_errors: int
    gold_empty: int
    """Answerable questions whose gold result is empty on this world (a match there proves little: look at them)."""
    causes: dict[str, int]


def metrics(results: Iterable[QuestionResult]) -> Metrics:
    rs = list(results)
    ans = [r for r in rs if r.expect == "answer"]
    scored = [r for r in ans if r.correct is not None]
    correct = sum(bool(r.correct) for r in scored)
    generated = [r for r in ans if r.sql_generated]
    unans = [r for r in rs if r.expect != "answer"]
    abst = [r for r in rs if r.abstained]
    lat = np.array([r.latency_ms for r in rs], dtype=float)
    return Metrics(
        n=len(rs), answerable=len(ans), scored=len(scored), correct=correct,
        execution_accuracy=_rate(correct, len(scored)),
        valid_sql_rate=_rate(sum(r.sql_executed for r in generated), len(generated)),
        guardrail_pass_rate=_rate(sum(r.guardrail_passed for r in generated), len(generated)),
        unanswerable=len(unans), abstentions=len(abst),
        abstention_precision=_rate(sum(r.expect != "answer" for r in abst), len(abst)),
        abstention_recall=_rate(sum(r.abstained for r in unans), len(unans)),
        leaks=sum(bool(r.leaks) for r in rs),
        latency_p50_ms=round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
        latency_p95_ms=round(float(np.percentile(lat, 95)), 1) if len(lat) else None,
        gold_errors=sum(r.expect == "answer" and r.correct is None for r in rs),
        gold_empty=sum(r.expect == "answer" and r.gold_rows == 0 for r in rs),
        causes=dict(Counter(r.cause for r in rs).most_common()),
    )


class Scoreboard(BaseModel):
    """One backend's run: overall metrics and breakdowns."""

    backend: str
    split: str
    world: dict[str, object]
    overall: Metrics
    by_tag: dict[str, Metrics]
    by_topic: dict[str, Metrics]
    by_team: dict[str, Metrics]


def scoreboard(results: list[QuestionResult], *, backend: str, split: str, world: dict[str, object]) -> Scoreboard:
    def group(key: str) -> dict[str, Metrics]:
        buckets: dict[str, list[QuestionResult]] = {}
        for r in results:
            values = r.tags if key == "tags" else [getattr(r, key)]
            for v in values:
                buckets.setdefault(v, []).append(r)
        return {k: metrics(v) for k, v in sorted(buckets.items())}

    return Scoreboard(backend=backend, split=split, world=world, overall=metrics(results), by_tag=group("tags"),
                      by_topic=group("topic"), by_team=group("team"))
