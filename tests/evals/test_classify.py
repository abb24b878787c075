"""The failure-cause classifier, table-driven over outcomes and gold/predicted SQL pairs."""

from __future__ import annotations

import pytest

from evals.classify import classify, sql_shape
from evals.compare import Comparison

WRONG = Comparison(False, "values")
RATE = "SELECT avg(CASE WHEN decision = 'approve' THEN 1.0 ELSE 0 END) FROM decisions"
RATE_BY_PARTNER = ("SELECT p.name, avg(CASE WHEN d.decision = 'approve' THEN 1.0 ELSE 0 END) FROM decisions d "
                   "JOIN partners p ON p.partner_id = d.partner_id GROUP BY p.name")

CASES = [
    ("right answer", True, "answered", Comparison(True, "ok"), RATE, RATE, "correct"),
    ("timeout", True, "timeout", None, RATE, None, "timeout"),
    ("guardrails refused an answerable question", True, "blocked", None, RATE, None, "blocked"),
    ("abstained on an answerable question", True, "cannot_answer", None, RATE, None, "cannot_answer"),
    ("engine error", True, "error", None, RATE, None, "error"),
    ("unanswerable refused", False, "blocked", None, None, None, "abstained"),
    ("unanswerable declined", False, "cannot_answer", None, None, None, "abstained"),
    ("unanswerable answered", False, "answered", None, None, "SELECT count(*) FROM applications",
     "answered_unanswerable"),
    ("wrong fact table", True, "answered", WRONG, "SELECT count(*) FROM loans", "SELECT count(*) FROM decisions",
     "wrong_table"),
    ("lookup join for a label is not a wrong table, the grouping is", True, "answered", Comparison(False, "row_count"),
     RATE, RATE_BY_PARTNER, "wrong_grouping"),
    ("grouped by the wrong column", True, "answered", WRONG, RATE_BY_PARTNER,
     "SELECT decision, avg(score) FROM decisions GROUP BY ALL", "wrong_grouping"),
    ("sum instead of count", True, "answered", WRONG, "SELECT count(*) FROM loans", "SELECT sum(principal) FROM loans",
     "wrong_aggregation"),
    ("extra aggregate column is not the mistake", True, "answered", WRONG,
     "SELECT avg(requested_amount) FROM applications WHERE purpose = 'medical'",
     "SELECT avg(requested_amount), count(*) FROM applications", "wrong_filter"),
    ("missing filter", True, "answered", WRONG, "SELECT count(*) FROM loans WHERE status = 'defaulted'",
     "SELECT count(*) FROM loans", "wrong_filter"),
    ("order", True, "answered", Comparison(False, "order"), RATE_BY_PARTNER + " ORDER BY 2 DESC",
     RATE_BY_PARTNER + " ORDER BY 2", "wrong_order"),
    ("missing column", True, "answered", Comparison(False, "too_few_columns"), RATE_BY_PARTNER,
     "SELECT avg(CASE WHEN d.decision = 'approve' THEN 1.0 ELSE 0 END) FROM decisions d JOIN partners p ON "
     "p.partner_id = d.partner_id GROUP BY p.name", "wrong_columns"),
]


@pytest.mark.parametrize(("answerable", "outcome", "comparison", "gold", "pred", "cause"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_classify(answerable: bool, outcome: str, comparison, gold, pred, cause: str) -> None:
    assert classify(answerable=answerable, outcome=outcome, comparison=comparison, gold_sql=gold,
                    pred_sql=pred) == cause


@pytest.mark.parametrize(("sql", "groups"), [
    ("SELECT decision, count(*) FROM decisions GROUP BY ALL", {"decision"}),
    ("SELECT decision AS d, count(*) FROM decisions GROUP BY 1", {"decision"}),
    ("SELECT decision AS d, count(*) FROM decisions GROUP BY d", {"decision"}),
    ("SELECT date_trunc('month', decided_at) AS m, count(*) FROM decisions GROUP BY m", {"decided_at"}),
])
def test_group_columns_resolve_ordinals_aliases_and_all(sql: str, groups: set[str]) -> None:
    assert sql_shape(sql).group_columns == groups
