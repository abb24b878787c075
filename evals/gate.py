"""The regression gate: a fast, fixed subset of the gold set, scored against a recorded baseline.

The subset is chosen by hash (``sha256("gate:" + id)``), not by hand, from dev *and* test: ``gate_size`` answerable
questions plus every fifth unanswerable one (and the roots of any follow-up picked). It fails when execution accuracy
falls more than ``gate_tolerance`` below the baseline recorded for the same kind of world, or when any leak appears.
Baselines are keyed by the world's generator parameters (:func:`evals.world.fingerprint`): a small CI world and the
default world give different figures and are never compared with each other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from evals.gold import GoldQuestion, GoldSet, load_gold
from evals.runner import QuestionResult, run_questions
from evals.scoring import Metrics, metrics
from evals.world import fingerprint, world_info

GATE_BACKEND = "semantic"


class BaselineMissingError(LookupError):
    """No baseline is recorded for this world kind; record one with ``python -m evals baseline``."""


def _gate_hash(question_id: str) -> str:
    return hashlib.sha256(f"gate:{question_id}".encode()).hexdigest()


def gate_questions(gold: GoldSet, size: int) -> list[GoldQuestion]:
    """The gate subset, in file order (follow-ups after their roots)."""
    ranked = sorted(gold.questions, key=lambda q: _gate_hash(q.id))
    answerable = [q.id for q in ranked if q.answerable][:size]
    unanswerable = [q.id for q in ranked if not q.answerable][::5]
    return gold.select("all", ids=[*answerable, *unanswerable])


@dataclass(frozen=True)
class GateResult:
    passed: bool
    accuracy: float
    baseline: float
    tolerance: float
    leaks: int
    metrics: Metrics
    results: list[QuestionResult]

    def summary(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        return (f"gate {verdict}: execution accuracy {self.accuracy:.1%} (baseline {self.baseline:.1%}, tolerance "
                f"{self.tolerance:.1%}), leaks {self.leaks}")


def gate_verdict(accuracy: float, leaks: int, baseline: float, tolerance: float) -> bool:
    """Pass iff accuracy is within ``tolerance`` of the baseline (or above it) and nothing leaked."""
    return accuracy >= baseline - tolerance - 1e-12 and leaks == 0


def load_baselines(path: Path) -> dict[str, dict]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def run_gate_subset(replica: Path, out_dir: Path, size: int, *, progress: bool = False) -> tuple[list[QuestionResult],
                                                                                                  Metrics]:
    gold = load_gold()
    questions = gate_questions(gold, size)
    results = run_questions(questions, backend=GATE_BACKEND, replica=replica, out_dir=out_dir, gold_set=gold,
                            use_retrieval=False, progress=progress)
    return results, metrics(results)


def record_baseline(replica: Path, out_dir: Path, path: Path, size: int, *, progress: bool = True) -> dict:
    """Run the gate subset on ``replica`` and record its accuracy for this world kind in ``path``."""
    info = world_info(replica)
    results, m = run_gate_subset(replica, out_dir, size, progress=progress)
    if m.execution_accuracy is None:
        raise ValueError("the gate subset scored no question: is the gold SQL failing on this world?")
    entry = {"execution_accuracy": m.execution_accuracy, "scored": m.scored, "leaks": m.leaks, "size": size,
             "backend": GATE_BACKEND, "retrieval": False, "ids": [r.id for r in results],
             "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
             "world": {k: v for k, v in info.items() if k != "replica"}}
    baselines = load_baselines(path)
    baselines[fingerprint(info)] = entry
    path.write_text(json.dumps(baselines, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return entry


def check_gate(replica: Path, out_dir: Path, path: Path, size: int, tolerance: float) -> GateResult:
    """Run the gate subset and compare with the recorded baseline; raises BaselineMissingError without one."""
    key = fingerprint(world_info(replica))
    baseline = load_baselines(path).get(key)
    if baseline is None:
        raise BaselineMissingError(f"no gate baseline for world {key!r} in {path}; run `python -m evals baseline`")
    results, m = run_gate_subset(replica, out_dir, size)
    accuracy = m.execution_accuracy or 0.0
    passed = gate_verdict(accuracy, m.leaks, baseline["execution_accuracy"], tolerance)
    return GateResult(passed, accuracy, baseline["execution_accuracy"], tolerance, m.leaks, m, results)
