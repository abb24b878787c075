"""The planner is general over the catalog: every metric is reachable by its own synonyms, in every team."""

import datetime as dt

import pytest

from copilot.models import SemanticPlan
from copilot.semantic.compiler import compile_plan
from copilot.semantic.planner import plan_question
from copilot.semantic.view import team_semantics
from guardrails.teams import validate_for_team

TODAY = dt.date(2024, 11, 20)


@pytest.mark.parametrize("team", ["risk", "growth", "partnerships"])
def test_every_metric_synonym_plans_compiles_and_validates(team: str) -> None:
    """Not a list of known questions: every synonym of every metric the team may use, sliced by a dimension."""
    sem = team_semantics(team)
    checked = 0
    for name, metric in sem.metrics.items():
        for synonym in metric.synonyms:
            result = plan_question(f"{synonym} last 30 days", sem, TODAY)
            assert result.plan is not None, synonym
            assert result.plan.metrics[0] == name or synonym in _synonyms(sem, result.plan.metrics[0]), synonym
            compiled = compile_plan(result.plan, sem)
            validate_for_team(compiled.sql, team)
            checked += 1
    assert checked > 20


def _synonyms(sem, metric: str) -> set[str]:
    return set(sem.metrics[metric].synonyms)


@pytest.mark.parametrize(
    ("question", "metric", "dims", "filters", "order", "limit"),
    [
        ("approval rate by partner last 7 days", "approval_rate", ["partner"], {}, None, None),
        ("top 5 lenders by disbursed amount since October", "disbursed_amount", ["lender"], {}, "desc", 5),
        ("decline rate for app vs web channels", "decline_rate", ["channel_type"],
         {"channel_type": {"app", "web"}}, None, None),
        ("which lender has the lowest default rate", "default_rate", ["lender"], {}, "asc", 1),
        ("aproval rate by state", "approval_rate", ["state"], {}, None, None),
        ("number of applications for aggregator partners", "application_count", [],
         {"channel_type": {"aggregator"}}, None, None),
    ],
)
def test_plans(question: str, metric: str, dims: list[str], filters: dict, order, limit) -> None:
    result = plan_question(question, team_semantics("risk"), TODAY)
    assert result.plan is not None
    assert result.plan.metrics == [metric]
    assert result.plan.dimensions == dims
    assert {f.dimension: set(f.values) for f in result.plan.filters} == filters
    assert (result.plan.order, result.plan.limit) == (order, limit)


@pytest.mark.parametrize(
    ("question", "team"),
    [
        ("what is the weather in Mumbai", "risk"),
        ("approval rate by state", "growth"),  # state is applicant data the growth team cannot see
        ("average bureau score by city", "partnerships"),
    ],
)
def test_declines_what_it_cannot_answer(question: str, team: str) -> None:
    result = plan_question(question, team_semantics(team), TODAY)
    assert result.plan is None and result.confidence == 0.0


def test_half_understood_questions_lose_confidence() -> None:
    sem = team_semantics("risk")
    clear = plan_question("average bureau score last month", sem, TODAY)
    vague = plan_question("average bureau score of applicants holding gold loans with two cars", sem, TODAY)
    assert clear.confidence >= 0.9
    assert vague.confidence < 0.6 and {"gold", "cars"} <= set(vague.unmatched)


def test_follow_up_refines_previous_plan() -> None:
    sem = team_semantics("risk")
    first = plan_question("approval rate by partner last 7 days", sem, TODAY).plan
    assert first is not None
    by_lender = plan_question("and by lender?", sem, TODAY, previous=first)
    assert by_lender.plan is not None and by_lender.plan.dimensions == ["partner", "lender"]
    last_week = plan_question("only last week", sem, TODAY, previous=first)
    assert last_week.plan is not None and last_week.plan.time_window.start == dt.date(2024, 11, 11)
    assert last_week.plan.metrics == ["approval_rate"]


def test_injection_values_are_literals() -> None:
    sem = team_semantics("risk")
    plan = SemanticPlan.model_validate({"metrics": ["decision_count"], "filters": [
        {"dimension": "channel_type", "values": ["app'; DROP TABLE decisions; --"]}]})
    sql = compile_plan(plan, sem).sql
    validate_for_team(sql, "risk")
    assert "'app''; DROP TABLE decisions; --'" in sql


def test_planner_is_fast() -> None:
    import time

    sem = team_semantics("risk")
    plan_question("warm up approval rate", sem, TODAY)
    t0 = time.perf_counter()
    for _ in range(20):
        plan_question("top 5 partners by approval rate for salaried applicants since October", sem, TODAY)
    assert (time.perf_counter() - t0) / 20 < 0.05
