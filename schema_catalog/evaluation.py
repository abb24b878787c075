"""Retrieval quality and latency on a labelled question set (shared by the test and benchmarks/bench_retrieval.py).

A question counts as recalled when every needed table, column and metric is in the retrieved context at ``k``;
latency is wall time of :func:`retrieve` per question after a warm-up question per team.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from schema_catalog.retrieval import Retriever


@dataclass(frozen=True)
class LabelledQuestion:
    team: str
    question: str
    tables: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()


@dataclass
class EvaluationResult:
    k: int
    total: int = 0
    recalled: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    misses: list[tuple[LabelledQuestion, list[str]]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.recalled / self.total if self.total else 0.0

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]

    def summary(self) -> str:
        lines = [f"recall@{self.k}: {self.recalled}/{self.total} = {self.recall:.1%}; latency median "
                 f"{self.median_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, max {max(self.latencies_ms):.1f} ms"]
        lines += [f"  MISS [{q.team}] {q.question}: {missing}" for q, missing in self.misses]
        return "\n".join(lines)


def load_questions(path: Path) -> list[LabelledQuestion]:
    raw = yaml.safe_load(path.read_text())["questions"]
    return [LabelledQuestion(q["team"], q["question"], tuple(q.get("tables", ())), tuple(q.get("columns", ())),
                             tuple(q.get("metrics", ()))) for q in raw]


def evaluate(retriever: Retriever, questions: list[LabelledQuestion], k: int = 10) -> EvaluationResult:
    """Recall@k and per-question latency (each team warmed up first, so model/collection loading is excluded)."""
    result = EvaluationResult(k=k)
    for team in sorted({q.team for q in questions}):
        retriever.warm_up(team)
    for q in questions:
        start = time.perf_counter()
        ctx = retriever.retrieve(q.question, q.team, k)
        result.latencies_ms.append((time.perf_counter() - start) * 1000)
        missing = [t for t in q.tables if t not in ctx.tables]
        missing += [c for c in q.columns if c not in ctx.columns]
        missing += [f"metric:{m}" for m in q.metrics if m not in ctx.metrics]
        result.total += 1
        if missing:
            result.misses.append((q, missing))
        else:
            result.recalled += 1
    return result
