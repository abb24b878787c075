"""Plans answered from rollup tables give exactly the fact tables' answers (on the real backfilled small world)."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from pathlib import Path

import pytest

from copilot.errors import PlanCompileError
from copilot.models import PlanFilter, SemanticPlan, TimeWindow
from copilot.semantic.compiler import compile_plan
from copilot.semantic.rollup_route import rollups_enabled
from copilot.semantic.view import team_semantics
from warehouse.db import reader
from warehouse.rollups import available_rollups, load_rollups

DECISION_METRICS = ["approval_rate", "refer_rate", "decline_rate", "fallback_rate", "average_score", "decision_count",
                    "approval_count", "average_latency_ms", "approved_amount", "average_offered_apr"]
LOAN_METRICS = ["loan_count", "disbursed_amount", "average_loan_amount", "average_apr", "default_rate", "dpd30_rate"]
BUREAU_METRICS = ["average_bureau_score", "thin_file_rate"]
APPLICATION_METRICS = ["application_count", "average_requested_amount", "average_monthly_income"]
DIMENSIONS = [None, "partner", "lender", "channel_type", "lender_type", "decision", "model_version",
              "bureau_score_band", "state", "gender", "loan_status", "partner_quality_tier", "purpose",
              "employment_type"]


def _same(a: list[tuple], b: list[tuple]) -> bool:
    if len(a) != len(b):
        return False
    for ra, rb in zip(sorted(a, key=repr), sorted(b, key=repr), strict=True):
        for x, y in zip(ra, rb, strict=True):
            if isinstance(x, int | float) and isinstance(y, int | float) and not isinstance(x, bool):
                if not math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-12):
                    return False
            elif x != y:
                return False
    return True


def _plans(last_day: dt.date) -> list[SemanticPlan]:
    window = TimeWindow(start=last_day - dt.timedelta(days=13), end=last_day + dt.timedelta(days=1), label="2 weeks")
    plans = []
    for metric, dim in itertools.product(DECISION_METRICS + LOAN_METRICS + BUREAU_METRICS + APPLICATION_METRICS,
                                          DIMENSIONS):
        dims = [dim] if dim else []
        plans.append(SemanticPlan(metrics=[metric], dimensions=dims))
        plans.append(SemanticPlan(metrics=[metric], dimensions=dims, time_window=window))
        plans.append(SemanticPlan(metrics=[metric], dimensions=dims, grain="week", order="desc"))  # no LIMIT: ties
        plans.append(SemanticPlan(metrics=[metric], dimensions=dims, time_window=window, compare_previous=True))
    plans.append(SemanticPlan(metrics=["approval_rate", "decision_count"], dimensions=["channel_type"],
                              filters=[PlanFilter(dimension="decision", op="not_in", values=["refer"])], share=True))
    plans.append(SemanticPlan(metrics=["decision_count"], dimensions=["partner"],
                              filters=[PlanFilter(dimension="channel_type", op="in", values=["nothing-matches"])]))
    plans.append(SemanticPlan(metrics=["decision_count"],
                              filters=[PlanFilter(dimension="partner", op="in", values=["nothing-matches"])]))
    return plans


@pytest.fixture(scope="module")
def last_day(decided_world: Path) -> dt.date:
    with reader(decided_world) as con:
        return con.execute("SELECT CAST(max(decided_at) AS DATE) FROM decisions").fetchone()[0]


def test_published_replica_holds_filled_rollups(decided_world: Path) -> None:
    with reader(decided_world) as con:
        assert available_rollups(con) == frozenset(load_rollups())
        facts = con.execute("SELECT count(*) FROM decisions").fetchone()[0]
        rolled = con.execute("SELECT sum(decisions) FROM decisions_daily_rollup").fetchone()[0]
    assert facts > 0 and rolled == facts


@pytest.mark.parametrize("team", ["risk", "growth"])
def test_rollup_answers_equal_fact_answers(decided_world: Path, last_day: dt.date, team: str) -> None:
    """Every plan compiles the same way twice -- facts only, and rollups allowed -- and both SQLs agree."""
    with reader(decided_world) as con:
        sem = team_semantics(team, str(decided_world), con)
        routed: set[str] = set()
        compared = 0
        for plan in _plans(last_day):
            if any(m not in sem.metrics for m in plan.metrics) or any(
                    d not in sem.dimensions for d in [*plan.dimensions, *(f.dimension for f in plan.filters)]):
                continue
            try:
                facts = compile_plan(plan, sem)
            except PlanCompileError:  # a plan the catalog cannot express: nothing to compare
                continue
            with rollups_enabled(load_rollups()):
                fast = compile_plan(plan, sem)
            if fast.base_table == facts.base_table:
                assert fast.sql == facts.sql
                continue
            routed.add(fast.base_table)
            compared += 1
            expected, got = con.execute(facts.sql).fetchall(), con.execute(fast.sql).fetchall()
            assert _same(expected, got), f"{plan}\n{facts.sql}\n{fast.sql}\n{expected[:5]}\n{got[:5]}"
    expected_rollups = {"decisions_daily_rollup", "loans_daily_rollup", "applications_daily_rollup"}
    if team == "risk":
        expected_rollups.add("bureau_daily_rollup")
    assert routed == expected_rollups
    assert compared > 100


@pytest.mark.parametrize(("metrics", "dimensions", "why"), [
    (["p95_latency_ms"], ["partner"], "a quantile is not additive"),
    (["average_bureau_score"], ["bureau_score_band"], "the rollup joins applicants; this plan does not"),
    (["default_rate"], ["lender"], "the loan rollup joins decisions; this plan does not"),
    (["approval_rate"], ["city"], "decisions reach the applicant's city only through applications"),
])
def test_plans_that_stay_on_the_facts(decided_world: Path, metrics: list[str], dimensions: list[str],
                                      why: str) -> None:
    with reader(decided_world) as con:
        sem = team_semantics("risk", str(decided_world), con)
    plan = SemanticPlan(metrics=metrics, dimensions=dimensions)
    try:
        facts = compile_plan(plan, sem)
    except PlanCompileError:
        pytest.skip(f"not compilable for risk: {plan}")
    with rollups_enabled(load_rollups()):
        assert compile_plan(plan, sem).base_table == facts.base_table, why


def test_nothing_routes_without_enabled_rollups(decided_world: Path) -> None:
    """Outside the pipeline (or on a replica without rollups) the compiler is unchanged."""
    with reader(decided_world) as con:
        sem = team_semantics("risk", str(decided_world), con)
    assert compile_plan(SemanticPlan(metrics=["approval_rate"], dimensions=["partner"]), sem).base_table == "decisions"


def test_pipeline_answers_from_the_rollup(copilot_on_decided) -> None:  # type: ignore[no-untyped-def]
    answer = copilot_on_decided.ask("approval rate by partner", "risk")
    assert not answer.cannot_answer
    assert "decisions_daily_rollup" in (answer.sql or "")
    assert "pre-aggregated" in (answer.explanation or "")


def test_hiding_the_rollups_through_the_pipeline_module(copilot_on_decided, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """benchmarks/bench_copilot.py compares rollups with facts by swapping ``copilot.pipeline._rollups_of``: the
    pipeline must keep looking that name up in its own module (however it is split)."""
    from copilot import pipeline

    monkeypatch.setattr(pipeline, "_rollups_of", lambda _executor: frozenset())
    answer = copilot_on_decided.ask("approval rate by partner", "risk")
    assert not answer.cannot_answer
    assert "decisions_daily_rollup" not in (answer.sql or "") and "decisions" in (answer.sql or "")


@pytest.fixture
def copilot_on_decided(decided_world: Path, settings):  # type: ignore[no-untyped-def]
    from copilot.pipeline import Copilot

    c = Copilot(settings, replica=decided_world, use_retrieval=False)
    yield c
    c.close()


def test_column_layer_plans_compile_unchanged(decided_world: Path) -> None:
    """Derived column metrics and dimensions (rows__x, avg__x, col__x) are not in semantic.yaml: never routed."""
    with reader(decided_world) as con:
        sem = team_semantics("risk", str(decided_world), con)
    metrics = [m for m in sem.metrics if "__" in m and m.split("__", 1)[1].startswith(("decisions", "applications"))]
    dims = [None, *(d for d in sem.dimensions if "__" in d)][:15]
    assert metrics and len(dims) > 1
    checked = 0
    for metric, dim in itertools.product(metrics[:20], dims):
        plan = SemanticPlan(metrics=[metric], dimensions=[dim] if dim else [])
        try:
            facts = compile_plan(plan, sem)
        except PlanCompileError:
            continue
        with rollups_enabled(load_rollups()):
            assert compile_plan(plan, sem).sql == facts.sql
        checked += 1
    assert checked > 10


@pytest.mark.parametrize("question", ["average number of applications per applicant",
                                      "how many applicants applied more than once",
                                      "average decisions per application by partner"])
def test_nested_plans_stay_on_the_facts(copilot_on_decided, question: str) -> None:  # type: ignore[no-untyped-def]
    """Per-entity plans group fact rows by an entity key no rollup keeps: the pipeline compiles them on the facts."""
    answer = copilot_on_decided.ask(question, "risk")
    if answer.plan is not None and answer.plan.nested is not None:
        assert not answer.cannot_answer, answer.reason
        assert "_rollup" not in (answer.sql or "")
