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
            rows = [({k: v[i] for k, v in app.items()}, {k: v[i] for k, v in bureau.items()},
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
                one_app, one_bureau = {k: v[0] for k, v in app.items()}, {k: v[0] for k, v in bureau.items()}
                _, outcomes = await scorer.submit(one_app, one_bureau, history, ("L03", "L04", "L05"), True)
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


def test_batch_features_from_request_scalars_equal_the_column_path() -> None:
    """Requests hand the scorer plain scalars; the batch's features must be exactly what ``build_features`` gives
    on the same data as columns (the training and backfill form), NaN and missing bureau reports included."""
    from decision_service.features import build_features
    from decision_service.services.scoring import _batch_features, _Item

    app, bureau, history = synthetic_inputs(40, seed=5)
    bureau = {k: v.copy() for k, v in bureau.items()}
    bureau["bureau_score"][::7] = np.nan
    items = [_Item({k: v[i] for k, v in app.items()}, {k: float(v[i]) for k, v in bureau.items()},
                   {k: v[i: i + 1] for k, v in history.items()}, ("L03",), True, None)  # type: ignore[arg-type]
             for i in range(40)]
    got, want = _batch_features(items), build_features(app, bureau, history)
    assert list(got) == list(want)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


@pytest.mark.parametrize(("behaviour", "deadline_in_s", "want_reason"), [
    ({"L03": "ok", "L04": "ok"}, -0.01, "deadline"),  # queued past its deadline: the models are not even started
    ({"L03": "ok", "L04": "slow"}, 0.15, "deadline"),  # deadline before the model budget (0.3 s): cut at 0.15 s
    ({"L03": "ok", "L04": "slow"}, 5.0, "timeout"),  # the model's own budget cuts first
])
def test_decision_deadline_bounds_the_wait_for_models(behaviour: dict[str, str], deadline_in_s: float,
                                                      want_reason: str) -> None:
    from prometheus_client import REGISTRY

    from decision_service.observability import TALLY

    engine = _Engine(behaviour)
    calls: list[str] = []
    scripted = engine.score_batch

    def counting(lender_id: str, features: dict[str, np.ndarray]) -> list[LenderOutcome]:
        calls.append(lender_id)
        return scripted(lender_id, features)

    engine.score_batch = counting  # type: ignore[method-assign]
    app, bureau, history = synthetic_inputs(1, seed=4)
    before = {r: _fallbacks("L04", r, REGISTRY) for r in ("deadline", "timeout")}

    async def run() -> tuple[float, list[LenderOutcome]]:
        with ThreadPoolExecutor(2) as pool:
            scorer = BatchScorer(engine, pool, model_timeout_s=0.3)
            await scorer.start()
            try:
                t0 = time.perf_counter()
                _, outcomes = await scorer.submit({k: v[0] for k, v in app.items()},
                                                  {k: v[0] for k, v in bureau.items()}, history, ("L03", "L04"),
                                                  True, deadline=t0 + deadline_in_s)
                return time.perf_counter() - t0, outcomes
            finally:
                await scorer.stop()

    took, outcomes = asyncio.run(run())
    TALLY.flush()
    assert took < min(0.3, max(deadline_in_s, 0)) + 0.2
    assert outcomes[0].fallback_used == (deadline_in_s < 0)  # L03 is scored first and finishes, unless nothing ran
    assert outcomes[1].fallback_used  # L04: never started, or cut while hanging
    assert calls == ([] if deadline_in_s < 0 else ["L03", "L04"])
    after = {r: _fallbacks("L04", r, REGISTRY) for r in ("deadline", "timeout")}
    assert after[want_reason] == before[want_reason] + 1


def _fallbacks(lender_id: str, reason: str, registry: Any) -> float:
    """``decision_fallbacks_total`` for one lender and reason as the /metrics exposition reports it (0 if unseen)."""
    return registry.get_sample_value("decision_fallbacks_total", {"lender_id": lender_id, "reason": reason}) or 0.0
