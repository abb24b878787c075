"""The micro-batching scorer: every lender decided, a slow or failing model falls back for its own lender only."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from decision_service.services.scoring import FALLBACK_MODEL_ID, BatchScorer, DecisionEngine, LenderOutcome
from decision_service.training.synthetic import synthetic_inputs


class _FakeRegistry:
    """Stands in for ModelRegistry (no trained artifacts needed): the behaviour under test is the scorer's."""

    def champion(self, lender_id: str) -> Any:
        raise AssertionError("score_batch is replaced in these tests")


class _Engine(DecisionEngine):
    """Real fallback and policies; the model step is scripted per lender: ok / slow / boom."""

    def __init__(self, behaviour: dict[str, str]) -> None:
        from decision_service.policy import load_policy

        super().__init__(_FakeRegistry(), {lid: load_policy(lid) for lid in behaviour})
        self.behaviour = behaviour

    def score_batch(self, lender_id: str, features: dict[str, np.ndarray]) -> list[LenderOutcome]:
        how = self.behaviour[lender_id]
        if how == "slow":
            time.sleep(1.0)
        if how == "boom":
            raise RuntimeError("model exploded")
        n = len(features["bureau_score"])
        return [LenderOutcome(lender_id, "approve", 0.01, 100_000.0, 14.0, 24, 4_800.0, [], f"{lender_id}-m", "v1",
                              "p1", False, decision_id=f"D{i}") for i in range(n)]


async def _decide(engine: DecisionEngine, n: int, lenders: tuple[str, ...]) -> list[list[LenderOutcome]]:
    app, bureau, history = synthetic_inputs(n, seed=2)
    with ThreadPoolExecutor(4) as pool:
        scorer = BatchScorer(engine, pool, model_timeout_s=0.3)
        await scorer.start()
        try:
            rows = [({k: v[i: i + 1] for k, v in app.items()}, {k: v[i: i + 1] for k, v in bureau.items()},
                     {k: v[i: i + 1] for k, v in history.items()}) for i in range(n)]
            got = await asyncio.gather(*(scorer.submit(a, b, h, lenders, True) for a, b, h in rows))
        finally:
            await scorer.stop()
    return [outcomes for _, outcomes in got]


@pytest.mark.parametrize(("behaviour", "fallback_for"), [
    ({"L03": "ok", "L04": "ok", "L05": "ok"}, set()),
    ({"L03": "ok", "L04": "boom", "L05": "ok"}, {"L04"}),
    ({"L03": "ok", "L04": "ok", "L05": "slow"}, {"L05"}),
])
def test_each_lender_decided_and_failures_fall_back(behaviour: dict[str, str], fallback_for: set[str]) -> None:
    lenders = ("L03", "L04", "L05")
    t0 = time.perf_counter()
    results = asyncio.run(_decide(_Engine(behaviour), 6, lenders))
    assert time.perf_counter() - t0 < 2.5  # a hanging model costs its budget (0.3 s), not its 1 s
    for outcomes in results:
        assert [o.lender_id for o in outcomes] == list(lenders)
        for o in outcomes:
            assert o.fallback_used == (o.lender_id in fallback_for)
            assert (o.model_id == FALLBACK_MODEL_ID) == (o.lender_id in fallback_for)
            assert o.decision in {"approve", "refer", "decline"}


def test_lender_that_timed_out_is_scored_last() -> None:
    engine = _Engine({"L03": "slow", "L04": "ok", "L05": "ok"})
    app, bureau, history = synthetic_inputs(1, seed=3)

    async def run() -> tuple[list[str], list[LenderOutcome]]:
        with ThreadPoolExecutor(2) as pool:
            scorer = BatchScorer(engine, pool, model_timeout_s=0.3)
            await scorer.start()
            try:
                _, outcomes = await scorer.submit(app, bureau, history, ("L03", "L04", "L05"), True)
            finally:
                await scorer.stop()
            return scorer._lender_order({"L03", "L04", "L05"}), outcomes

    order, outcomes = asyncio.run(run())
    assert order == ["L04", "L05", "L03"]
    assert [o.fallback_used for o in outcomes] == [True, True, True]  # first time: L03 first, all past the deadline


def test_feature_rows_are_the_per_row_floats_with_nan_as_null() -> None:
    """The outbox's feature vector, serialised once per batch in the scoring thread, equals the per-row dict it
    replaced ({name: float(features[name][i])}, NaN -> null), field order included."""
    import math

    import orjson

    from decision_service.features import FEATURE_NAMES, build_features
    from decision_service.services.scoring import feature_rows

    app, bureau, history = synthetic_inputs(50, seed=5)
    features = build_features(app, bureau, history)
    rows = feature_rows(features)
    assert len(rows) == 50
    saw_null = False
    for i, raw in enumerate(rows):
        expected = {k: float(features[k][i]) for k in FEATURE_NAMES}
        expected = {k: None if math.isnan(v) else v for k, v in expected.items()}
        saw_null |= None in expected.values()
        assert raw == orjson.dumps(expected)
    assert saw_null, "synthetic inputs should include missing features (thin files, first-time borrowers)"
