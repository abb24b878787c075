"""Derived question shapes: per-entity aggregation, ratios of counts, period-over-period change, bridge counts.

The planner cases check the *reading* (what plan a kind of phrasing becomes); the execution cases check that the
compiled SQL computes the same numbers as an independently written reference query on a decided small world, and
that every compiled query passes the team's guardrails.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from copilot.models import NestedStep, SemanticPlan
from copilot.semantic.derived import compile_derived
from copilot.semantic.phrasing import COMPARISONS, comparison_ops, read_thresholds
from copilot.semantic.planner import plan_question
from copilot.semantic.view import team_semantics
from guardrails.teams import validate_for_team

TODAY = dt.date(2024, 11, 20)


@pytest.mark.parametrize(
    ("team", "question", "expected"),
    [
        ("risk", "average number of offers per application",
         {"metrics": ["approval_count"], "nested": {"entity": "applications", "aggregate": "avg"}}),
        ("growth", "applications per applicant",
         {"metrics": ["application_count"], "nested": {"entity": "applicants", "aggregate": "avg"}}),
        ("growth", "how many customers applied more than twice",
         {"metrics": ["application_count"],
          "nested": {"entity": "applicants", "aggregate": "count", "op": ">", "value": 2.0}}),
        ("risk", "how many applicants took at least 2 loans",
         {"metrics": ["loan_count"],
          "nested": {"entity": "applicants", "aggregate": "count", "op": ">=", "value": 2.0}}),
        ("risk", "number of applications that got no offer from any lender",
         {"metrics": ["approval_count"],
          "nested": {"entity": "applications", "aggregate": "count", "op": "=", "value": 0.0}}),
        ("risk", "ratio of loans to approvals by lender",
         {"metrics": ["loan_count", "approval_count"], "dimensions": ["lender"], "ratio": True}),
        ("risk", "week on week change in approvals", {"metrics": ["approval_count"], "grain": "week",
                                                       "change": "diff"}),
        ("risk", "monthly % growth in disbursed amount", {"metrics": ["disbursed_amount"], "grain": "month",
                                                          "change": "pct"}),
        ("growth", "how many lenders does each partner have",
         {"metrics": ["rows__lenders"], "dimensions": ["partner"]}),
        ("risk", "what % of applications came from aggregators",
         {"metrics": ["application_count"], "share": True,
          "filters": [{"dimension": "channel_type", "op": "in", "values": ["aggregator"]}]}),
        ("risk", "what percent of loans defaulted", {"metrics": ["rows__loans"], "share": True}),
        ("risk", "approval rate when the fallback was used vs the rest, by partner",
         {"metrics": ["approval_rate"], "dimensions": ["partner", "col__decisions__fallback_used"], "filters": []}),
        ("partnerships", "which partners have a take-up rate under 20%",
         {"metrics": ["take_up_rate"], "dimensions": ["partner"], "having": {"op": "<", "value": 0.2}}),
        ("risk", "lenders with more than 1000 approvals",
         {"metrics": ["approval_count"], "dimensions": ["lender"], "having": {"op": ">", "value": 1000.0}}),
        ("risk", "average daily approvals by lender last month",
         {"metrics": ["approval_count"], "dimensions": ["lender"], "nested": {"entity": "day", "aggregate": "avg"}}),
        ("risk", "average applications per week", {"metrics": ["application_count"],
                                                    "nested": {"entity": "week", "aggregate": "avg"}}),
        ("risk", "how many loans are 30+ dpd",
         {"metrics": ["loan_count"], "filters": [{"dimension": "col__loans__max_dpd", "op": ">=", "values": [30.0]}]}),
        ("risk", "average enquiries in the last 90 days by decision", {"dimensions": ["decision"]}),
        ("risk", "which state has the worst default rate",
         {"metrics": ["default_rate"], "dimensions": ["state"], "order": "desc", "limit": 1}),
        ("risk", "lender with the best default rate", {"metrics": ["default_rate"], "order": "asc", "limit": 1}),
        ("risk", "fallback % by partner", {"metrics": ["fallback_rate"], "dimensions": ["partner"]}),
        ("risk", "sanctioned amt in cr by lender", {"metrics": ["approved_amount"], "scale": 1e7}),
        ("risk", "approval rate for the last fortnight",
         {"metrics": ["approval_rate"], "time_window": {"start": dt.date(2024, 11, 7), "end": dt.date(2024, 11, 21),
                                                        "label": "last 1 fortnights (to 2024-11-20)"}}),
        ("risk", "loans by purpose and tenure",
         {"metrics": ["rows__loans"], "dimensions": ["purpose", "tenure_months"]}),
        ("risk", "alerts by severity", {"metrics": ["rows__alerts"], "dimensions": ["alert_severity"], "filters": []}),
        ("risk", "fallbacks by lender yesterday",
         {"metrics": ["rows__decisions"], "dimensions": ["lender"],
          "filters": [{"dimension": "col__decisions__fallback_used", "op": "is", "values": ["true"]}]}),
        ("risk", "number of rejections by lender this week",
         {"metrics": ["rows__decisions"], "dimensions": ["lender"],
          "filters": [{"dimension": "decision", "op": "in", "values": ["decline"]}]}),
        ("risk", "approval rate for women",
         {"metrics": ["approval_rate"], "filters": [{"dimension": "gender", "op": "in", "values": ["female"]}]}),
        ("risk", "kindly share approval ratio partnerwise", {"metrics": ["approval_rate"], "dimensions": ["partner"]}),
        ("risk", "what fraction of applications received at least one offer",
         {"metrics": ["approval_count"], "share": True,
          "nested": {"entity": "applications", "aggregate": "count", "op": ">=", "value": 1.0}}),
        ("risk", "which day had the most applications",
         {"metrics": ["application_count"], "grain": "day", "order": "desc", "limit": 1}),
        ("risk", "busiest day of the week for applications",
         {"metrics": ["application_count"], "dimensions": ["day_of_week"], "order": "desc", "limit": 1}),
        ("risk", "what is the maximum latency", {"metrics": ["max__decisions__latency_ms"]}),
        ("risk", "default rate for loans above 2 lakh",
         {"metrics": ["default_rate"], "filters": [{"dimension": "col__loans__principal", "op": ">",
                                                    "values": [200000.0]}]}),
    ],
)
def test_shape_readings(team: str, question: str, expected: dict) -> None:
    result = plan_question(question, team_semantics(team), TODAY)
    assert result.plan is not None, result.notes
    got = result.plan.model_dump(exclude_none=True)
    for key, value in expected.items():
        assert got.get(key) == value, (key, got)
    assert result.confidence >= 0.6


@pytest.mark.parametrize(
    "question",
    ["approval rate per lender", "average score per lender", "number of loans per lender", "approval rate by week",
     "average loan amount per partner"],
)
def test_plain_questions_keep_their_plain_shape(question: str) -> None:
    """A rate or an average "per <dimension>" is a breakdown, not a second level of aggregation."""
    plan = plan_question(question, team_semantics("risk"), TODAY).plan
    assert plan is not None
    assert plan.nested is None and not plan.ratio and plan.change is None


REFERENCES = [
    ("risk", SemanticPlan(metrics=["approval_count"], nested=NestedStep(entity="applications")),
     "SELECT avg(n) FROM (SELECT count(*) FILTER (WHERE decision = 'approve') AS n FROM decisions "
     "GROUP BY application_id)"),
    ("risk", SemanticPlan(metrics=["approval_count"],
                          nested=NestedStep(entity="applications", aggregate="count", op="=", value=0)),
     "SELECT count(*) FROM (SELECT application_id FROM decisions GROUP BY application_id "
     "HAVING NOT bool_or(decision = 'approve'))"),
    ("growth", SemanticPlan(metrics=["application_count"],
                            nested=NestedStep(entity="applicants", aggregate="count", op=">", value=1)),
     "SELECT count(*) FROM (SELECT applicant_id FROM applications GROUP BY applicant_id HAVING count(*) > 1)"),
    ("risk", SemanticPlan(metrics=["approval_count"], dimensions=["partner"],
                          nested=NestedStep(entity="applications", aggregate="max")),
     "SELECT p.name, max(n) FROM (SELECT application_id, count(*) FILTER (WHERE decision = 'approve') AS n "
     "FROM decisions GROUP BY application_id) x JOIN applications a USING (application_id) "
     "JOIN partners p ON p.partner_id = a.partner_id GROUP BY p.name"),
    ("risk", SemanticPlan(metrics=["loan_count", "approval_count"], ratio=True),
     "SELECT (SELECT count(*) FROM loans) / "
     "(SELECT count(*) FROM decisions WHERE decision = 'approve')"),
    ("risk", SemanticPlan(metrics=["application_count"], grain="week", change="diff"),
     "SELECT wk, n, n - lag(n) OVER (ORDER BY wk) FROM (SELECT date_trunc('week', received_at)::DATE AS wk, "
     "count(*) AS n FROM applications GROUP BY wk)"),
    ("risk", SemanticPlan(metrics=["application_count"], share=True,
                          filters=[{"dimension": "channel_type", "values": ["aggregator"]}]),
     "SELECT avg(CASE WHEN p.channel_type = 'aggregator' THEN 1.0 ELSE 0 END) FROM applications a "
     "JOIN partners p USING (partner_id)"),
    ("risk", SemanticPlan(metrics=["approval_count"], dimensions=["lender"], nested=NestedStep(entity="day")),
     "SELECT l.name, avg(n) FROM (SELECT lender_id, CAST(decided_at AS DATE), count(*) FILTER (WHERE decision = "
     "'approve') AS n FROM decisions GROUP BY ALL) JOIN lenders l USING (lender_id) GROUP BY l.name"),
    ("risk", SemanticPlan(metrics=["approval_rate"], dimensions=["partner"], having={"op": ">", "value": 0.3}),
     "SELECT p.name, avg(CASE WHEN decision = 'approve' THEN 1.0 ELSE 0 END) AS r FROM decisions d "
     "JOIN applications a USING (application_id) JOIN partners p ON p.partner_id = a.partner_id GROUP BY p.name "
     "HAVING r > 0.3"),
    ("risk", SemanticPlan(metrics=["approval_rate"],
                          filters=[{"dimension": "col__bureau_reports__bureau_score", "op": ">", "values": [750]}]),
     "SELECT avg(CASE WHEN decision = 'approve' THEN 1.0 ELSE 0 END) FROM decisions "
     "WHERE features.bureau_score > 750"),
    ("risk", SemanticPlan(metrics=["approval_count"], share=True,
                          nested=NestedStep(entity="applications", aggregate="count", op=">=", value=1)),
     "SELECT avg(CASE WHEN n >= 1 THEN 1.0 ELSE 0 END) FROM (SELECT count(*) FILTER (WHERE decision = 'approve') "
     "AS n FROM decisions GROUP BY application_id)"),
    ("risk", SemanticPlan(metrics=["application_count"], dimensions=["day_of_week"]),
     "SELECT dayname(received_at), count(*) FROM applications GROUP BY 1"),
    ("growth", SemanticPlan(metrics=["rows__lenders"], dimensions=["partner"]),
     "SELECT p.name, count(*) FROM partner_lenders pl JOIN partners p USING (partner_id) GROUP BY p.name"),
]


@pytest.mark.parametrize(("team", "plan", "reference"), REFERENCES)
def test_compiled_shapes_match_reference_queries(decided_world, team: str, plan: SemanticPlan,
                                                 reference: str) -> None:
    con = duckdb.connect(str(decided_world), read_only=True)
    try:
        sem = team_semantics(team, str(decided_world), con)
        compiled = compile_derived(plan, sem)
        validate_for_team(compiled.sql, team)
        got = sorted(tuple(_round(v) for v in row) for row in con.execute(compiled.sql).fetchall())
        want = sorted(tuple(_round(v) for v in row) for row in con.execute(reference).fetchall())
    finally:
        con.close()
    assert got and got == want


def _round(value: object) -> object:
    return round(value, 9) if isinstance(value, float) else value


@pytest.mark.parametrize(
    ("first", "follow_up", "expected"),
    [
        ("approvals yesterday", "vs the day before",
         {"compare_previous": True, "time_window": {"start": dt.date(2024, 11, 19), "end": dt.date(2024, 11, 20),
                                                    "label": "yesterday (2024-11-19)"}}),
        ("average score in the last 7 days", "and the week before?",
         {"time_window": {"start": dt.date(2024, 11, 7), "end": dt.date(2024, 11, 14),
                          "label": "2024-11-07 to 2024-11-13"}}),
    ],
)
def test_follow_ups_move_or_compare_the_window(first: str, follow_up: str, expected: dict) -> None:
    sem = team_semantics("risk")
    previous = plan_question(first, sem, TODAY).plan
    result = plan_question(follow_up, sem, TODAY, previous=previous)
    assert result.plan is not None and result.confidence >= 0.6
    got = result.plan.model_dump(exclude_none=True)
    for key, value in expected.items():
        assert got[key] == value, (key, got)


def test_a_window_compared_with_the_day_before_in_one_question() -> None:
    plan = plan_question("approvals yesterday vs the day before", team_semantics("risk"), TODAY).plan
    assert plan is not None and plan.compare_previous and plan.time_window is not None


@pytest.mark.parametrize(
    ("question", "op", "value"),
    [
        ("how many customers applied exactly twice", "=", 2.0),
        ("how many customers applied only once", "=", 1.0),
        ("how many customers applied a minimum of 3 times", ">=", 3.0),
        ("how many customers applied up to 2 times", "<=", 2.0),
        ("how many customers applied fewer than 3 times", "<", 3.0),
    ],
)
def test_count_thresholds_read_from_the_shared_comparison_table(question: str, op: str, value: float) -> None:
    """The count reader's phrases come from :data:`copilot.semantic.phrasing.COMPARISONS` ("exactly" included)."""
    plan = plan_question(question, team_semantics("growth"), TODAY).plan
    assert plan is not None and plan.nested is not None
    assert (plan.nested.entity, plan.nested.aggregate, plan.nested.op, plan.nested.value) == (
        "applicants", "count", op, value)


def test_counts_only_phrases_are_not_value_thresholds() -> None:
    """"exactly"/"only"/"just" are "=" to the count reader and nothing to the value reader: one table, two views,
    and the value reader's view is exactly what it was before the tables were merged."""
    values, counts = dict(comparison_ops("values")), dict(comparison_ops("counts"))
    assert set(values) == {">=", "<=", ">", "<"} and set(counts) == {">=", "<=", ">", "<", "="}
    for op, alternation in counts.items():  # every count phrase but the "=" ones is also a value phrase
        if op != "=":
            assert set(alternation.split("|")) <= set(values[op].split("|")), op
    assert [c.pattern for c in COMPARISONS if c.op == "=" and c.values] == []
    sem = team_semantics("growth")
    assert read_thresholds("loans with principal exactly 2 lakh", sem.columns, []).filters == []
    found = read_thresholds("loans with principal at least 2 lakh", sem.columns, []).filters
    assert [(f.dimension, f.op, f.values) for f in found] == [("col__loans__principal", ">=", [200000.0])]
