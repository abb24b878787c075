"""Retrieval: value matching, bad input, team isolation, and recall/latency on the labelled question set."""

from __future__ import annotations

from pathlib import Path

import pytest

from schema_catalog.evaluation import evaluate, load_questions
from schema_catalog.retrieval import EmptyQuestionError, Retriever, retrieve
from schema_catalog.teams import UnknownTeamError

QUESTIONS = Path(__file__).with_name("retrieval_questions.yaml")


@pytest.mark.parametrize(("team", "question", "table", "column", "value"), [
    ("growth", "approval rate for Paisabazar last month", "partners", "name", "Paisabazaar"),
    ("growth", "how many self-employed applicants", "applications", "employment_type", "self_employed"),
    ("risk", "default rate in Karnataka", "applicants", "state", "Karnataka"),
    ("risk", "applicants from karnatka", "applicants", "state", "Karnataka"),
    ("partnerships", "loans from cash karo", "partners", "name", "CashKaro"),
    ("growth", "approval rate of bank branch partners", "partners", "channel_type", "bank_branch"),
])
def test_value_matches_map_literals_to_column_and_spelling(retriever: Retriever, team: str, question: str,
                                                           table: str, column: str, value: str) -> None:
    ctx = retriever.retrieve(question, team)
    assert (table, column, value) in [(v.table, v.column, v.value) for v in ctx.values]
    assert f"{table}.{column}" in ctx.columns


def test_values_outside_the_team_scope_never_match(retriever: Retriever) -> None:
    ctx = retriever.retrieve("approval rate in Karnataka", "growth")
    assert not [v for v in ctx.values if v.table == "applicants"]
    assert not [t for t in ctx.tables if t in ("applicants", "bureau_reports")]


@pytest.mark.parametrize("team", ["growth", "partnerships"])
def test_context_never_leaves_team_scope(retriever: Retriever, team: str) -> None:
    ctx = retriever.retrieve("bureau score and PAN of applicants by state and city", team)
    allowed = set(retriever._state(team).catalog.tables)
    assert set(ctx.tables) <= allowed
    assert all(c.split(".")[0] in allowed for c in ctx.columns)
    assert "applicants.pan" not in ctx.columns


@pytest.mark.parametrize("question", ["", "   ", "?!"])
def test_empty_question_is_a_clear_error(retriever: Retriever, question: str) -> None:
    with pytest.raises(EmptyQuestionError):
        retriever.retrieve(question, "growth")


def test_long_question_is_truncated_not_rejected(retriever: Retriever) -> None:
    ctx = retriever.retrieve("approval rate by partner " * 400, "growth")
    assert ctx.truncated and len(ctx.question) == 1000
    assert "approval_rate" in ctx.metrics[:3]


def test_unknown_team_is_an_error(catalog_index: tuple[Path, object], retriever: Retriever) -> None:
    with pytest.raises(UnknownTeamError):
        retriever.retrieve("approval rate", "finance")
    with pytest.raises(UnknownTeamError):
        retrieve("approval rate", "finance", path=catalog_index[0])


def test_joins_and_examples(retriever: Retriever) -> None:
    ctx = retriever.retrieve("approval rate by lender", "risk")
    assert "JOIN lenders ON decisions.lender_id = lenders.lender_id" in [j.sql for j in ctx.joins]
    assert ctx.examples and "lender" in ctx.examples[0].question.lower()
    assert "METRIC approval_rate" in ctx.to_prompt()


def test_recall_and_latency_on_labelled_set(retriever: Retriever) -> None:
    questions = load_questions(QUESTIONS)
    assert len(questions) >= 60
    result = evaluate(retriever, questions, k=10)
    print(result.summary())
    assert result.recall >= 0.95, result.summary()
    # The 50 ms target is measured by benchmarks/bench_retrieval.py; on a loaded shared CI core the test only
    # guards against an order-of-magnitude regression (e.g. reloading the model per question).
    assert result.median_ms < 500, result.summary()
