"""Column-level questions no named metric covers: thresholds with Indian units, flags, aggregates of plain columns,
row counts, listings, exclusions, shares and write requests. Our own wordings, not gold-set questions."""

import datetime as dt

import pytest

from copilot.semantic.compiler import compile_plan
from copilot.semantic.planner import plan_question
from copilot.semantic.view import team_semantics
from guardrails.teams import validate_for_team

TODAY = dt.date(2024, 11, 20)


def _plan(team: str, question: str):
    sem = team_semantics(team)
    result = plan_question(question, sem, TODAY)
    assert result.plan is not None, result.notes
    sql = compile_plan(result.plan, sem).sql
    validate_for_team(sql, team)
    return result, sql


@pytest.mark.parametrize(
    ("team", "question", "needle"),
    [
        ("growth", "count of loans with principal over 2.5 lakh", "loans.principal > 250000"),
        ("growth", "how many applications requested at least 1 crore", "applications.requested_amount >= 10000000"),
        ("risk", "number of decisions slower than 2 seconds", "decisions.latency_ms > 2000"),
        ("risk", "how many bureau reports show utilisation above 80", "bureau_reports.utilisation_pct > 80"),
    ],
)
def test_threshold_filters_with_units(team: str, question: str, needle: str) -> None:
    result, sql = _plan(team, question)
    assert needle in sql.replace("\n", " ").replace(".0", ""), sql
    assert result.confidence >= 0.6


@pytest.mark.parametrize(
    ("team", "question", "needle"),
    [
        ("risk", "mean enquiries in the past 90 days by state", "AVG(bureau_reports.enquiries_90d)"),
        ("growth", "median tenure of loans by lender", "QUANTILE_CONT(loans.tenure_months, 0.5)"),
        ("risk", "avg days late per lender", "AVG(repayments.days_late)"),
        ("risk", "average emi to income by partner", "AVG(decisions.features.emi_to_income)"),
    ],
)
def test_aggregates_of_plain_columns(team: str, question: str, needle: str) -> None:
    result, sql = _plan(team, question)
    assert needle in sql, sql
    assert result.confidence >= 0.6


def test_flags_and_negated_flags() -> None:
    _, sql = _plan("risk", "decline rate by lender where the rule based fallback kicked in")
    assert "decisions.fallback_used = TRUE" in sql
    _, sql = _plan("risk", "how many bureau reports for non thin file applicants")
    assert "bureau_reports.thin_file = FALSE" in sql


def test_row_counts_group_and_filter_by_categorical_columns() -> None:
    _, sql = _plan("risk", "number of resolved alerts per lender")
    assert "alerts.status IN ('resolved')" in sql and "lenders.name" in sql
    _, sql = _plan("growth", "how many distinct applicants applied")  # growth cannot read applicants
    assert "COUNT(DISTINCT applications.applicant_id)" in sql


def test_listing_small_tables_without_pii() -> None:
    result, sql = _plan("partnerships", "show me all lenders")
    assert result.plan.list_table == "lenders" and "lenders.lender_type" in sql
    result, sql = _plan("partnerships", "which lender was deployed most recently? list model deployments")
    assert result.plan.list_table == "model_deployments" and "DESC" in sql and "LIMIT 1" in sql
    _, sql = _plan("risk", "list the applicants")
    assert "full_name" not in sql and "pan" not in sql.split()


def test_exclusion_across_all_wise_share_and_scale() -> None:
    result, _ = _plan("growth", "refer rate by channel excluding aggregator")
    assert [(f.op, f.values) for f in result.plan.filters] == [("not_in", ["aggregator"])]
    result, _ = _plan("growth", "refer rate across all lenders last 7 days")
    assert result.plan.dimensions == []
    result, _ = _plan("growth", "state wise refer rate".replace("state", "lender"))
    assert result.plan.dimensions == ["lender"]
    result, _ = _plan("growth", "month wise disbursed amount")
    assert result.plan.grain == "month"
    result, sql = _plan("growth", "what percentage of disbursed amount comes from each lender")
    assert result.plan.share and "OVER ()" in sql
    result, sql = _plan("growth", "disbursed amount by lender in crore")
    assert result.plan.scale == 1e7 and "/ 10000000" in sql


@pytest.mark.parametrize("question", ["drop table loans", "please update decisions set decision = 'approve'",
                                      "delete every refer decision", "truncate the alerts"])
def test_write_requests_are_refused(question: str) -> None:
    result = plan_question(question, team_semantics("risk"), TODAY)
    assert result.plan is None and "never changes" in result.notes[-1]


@pytest.mark.parametrize(("team", "question"), [("growth", "median credit score by lender"),
                                                ("growth", "email of the borrower with the largest loan")])
def test_hidden_columns_are_declined_not_substituted(team: str, question: str) -> None:
    assert plan_question(question, team_semantics(team), TODAY).plan is None


def test_follow_up_switching_metric_keeps_grouping() -> None:
    sem = team_semantics("growth")
    first = plan_question("refer rate by lender last 30 days", sem, TODAY).plan
    again = plan_question("and what about the decline rate?", sem, TODAY, previous=first)
    assert again.plan.metrics == ["decline_rate"] and again.plan.dimensions == ["lender"]
    assert again.plan.time_window == first.time_window
