"""The local backend: grammar-constrained plan filling; the JSON -> plan conversion is strict."""

from __future__ import annotations

import json

import pytest

from copilot.errors import MalformedOutputError
from copilot.llm.base import PlanRequest
from copilot.llm.local import LocalPlanFiller, plan_from_json
from copilot.llm.prompts import plan_json_schema
from copilot.pipeline import Copilot

REQUEST = PlanRequest(question="q", team="growth", metrics={"approval_rate": "", "loan_count": ""},
                      dimensions={"partner": "", "lender": ""}, today="2024-11-20")


def test_plan_from_json() -> None:
    out = plan_from_json(json.dumps({"cannot_answer": False, "metric": "loan_count", "dimensions": ["lender", "x"],
                                     "window": "last_7_days", "grain": "none", "order": "desc", "limit": "3"}), REQUEST)
    assert out.plan is not None
    assert (out.plan.metrics, out.plan.dimensions, out.plan.limit) == (["loan_count"], ["lender"], 3)
    assert str(out.plan.time_window.start) == "2024-11-14"
    assert plan_from_json('{"cannot_answer": true, "reason": "no data"}', REQUEST).cannot_answer


@pytest.mark.parametrize("raw", ['{"metric": "approval_rate", "dimensions": [', '"just text"',
                                 '{"cannot_answer": false, "metric": "weather", "dimensions": []}'])
def test_malformed_plans_are_typed_errors(raw: str) -> None:
    with pytest.raises(MalformedOutputError):
        plan_from_json(raw, REQUEST)


def test_grammar_enums_come_from_the_catalog() -> None:
    schema = plan_json_schema(REQUEST)
    assert schema["properties"]["metric"]["enum"] == ["approval_rate", "loan_count"]
    assert schema["properties"]["dimensions"]["items"]["enum"] == ["lender", "partner"]


@pytest.mark.slow
def test_smollm2_fills_a_plan_or_declines_and_is_labelled(small_world, settings) -> None:
    filler = LocalPlanFiller(n_ctx=2048, max_tokens=96)
    copilot = Copilot(settings, replica=small_world.replica, use_retrieval=False, plan_filler=filler)
    answer = copilot.ask("show loan counts per lender", "growth", backend="local")
    copilot.close()
    (attempt,) = answer.attempts
    assert attempt.backend == "local"
    assert attempt.outcome in ("ok", "malformed", "cannot_answer", "not_compilable", "rejected")
    if attempt.outcome == "ok":
        assert answer.confidence == settings.local_confidence < settings.planner_confidence_threshold
        assert "small local model" in answer.explanation
