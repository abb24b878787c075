"""The CI regression gate: the fast subset on a small backfilled world against evals/baseline.json.

This is the gate itself (it fails the test run when accuracy drops beyond the tolerance or anything leaks), plus the
checks that it *can* fail: a higher baseline, a leak, a missing baseline.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.gate import BaselineMissingError, check_gate, gate_questions, gate_verdict, load_baselines
from evals.gold import load_gold
from evals.settings import get_settings
from evals.world import fingerprint, world_info


@pytest.mark.parametrize(("accuracy", "leaks", "baseline", "tolerance", "passed"), [
    (0.80, 0, 0.80, 0.05, True),
    (0.76, 0, 0.80, 0.05, True),
    (0.75, 0, 0.80, 0.05, True),
    (0.74, 0, 0.80, 0.05, False),
    (0.95, 1, 0.80, 0.05, False),
    (0.90, 0, 0.80, 0.0, True),
])
def test_gate_verdict(accuracy: float, leaks: int, baseline: float, tolerance: float, passed: bool) -> None:
    assert gate_verdict(accuracy, leaks, baseline, tolerance) is passed


def test_gate_subset_is_fixed_and_mixes_splits() -> None:
    gold = load_gold()
    a, b = gate_questions(gold, 40), gate_questions(gold, 40)
    assert [q.id for q in a] == [q.id for q in b]
    assert sum(q.answerable for q in a) >= 40
    assert any(not q.answerable for q in a)
    assert {gold.split_of(q) for q in a} == {"dev", "test"}


def test_gold_names_exist_in_the_small_world(backfilled_replica: Path) -> None:
    """The gold SQL is written for the default world's names; small worlds come from the same generator."""
    import duckdb

    con = duckdb.connect(str(backfilled_replica), read_only=True)
    try:
        partners = {r[0] for r in con.execute("SELECT name FROM partners").fetchall()}
        decisions = con.execute("SELECT count(*) FROM decisions").fetchone()[0]
    finally:
        con.close()
    assert {"Paisabazaar", "QuickRupee Instant Loans"} <= partners
    assert decisions > 0


def test_regression_gate(backfilled_replica: Path, quiet_copilot: None, tmp_path: Path) -> None:
    """THE GATE: accuracy on the subset within tolerance of the recorded baseline, and zero leaks."""
    s = get_settings()
    result = check_gate(backfilled_replica, tmp_path, s.baseline_path, s.gate_size, s.gate_tolerance)
    failures = [f"{r.id}: {r.cause} {r.comparison}" for r in result.results if r.cause not in ("correct", "abstained")]
    assert result.leaks == 0, [r.leaks for r in result.results if r.leaks]
    assert result.passed, result.summary() + "\n" + "\n".join(failures)
    assert result.metrics.gold_errors == 0


def test_gate_fails_below_baseline_and_without_one(backfilled_replica: Path, quiet_copilot: None,
                                                    tmp_path: Path) -> None:
    s = get_settings()
    key = fingerprint(world_info(backfilled_replica))
    recorded = load_baselines(s.baseline_path)[key]
    strict = tmp_path / "baseline.json"
    # a baseline no run can reach (the subset may well be answered perfectly): the gate must fail
    strict.write_text(json.dumps({key: {**recorded, "execution_accuracy": 1.01}}))
    result = check_gate(backfilled_replica, tmp_path, strict, 10, 0.0)
    assert not result.passed and result.accuracy < 1.01
    with pytest.raises(BaselineMissingError, match="python -m evals baseline"):
        check_gate(backfilled_replica, tmp_path, tmp_path / "none.json", 10, 0.05)
