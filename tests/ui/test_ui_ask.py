"""The app's log-in and Ask page through Streamlit's AppTest, on a small world with real backfilled decisions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import TextArea

from copilot.guard import close_executors
from guardrails.settings import get_settings as guardrail_settings
from schema_catalog.verified import VerifiedQueryStore

pytestmark = pytest.mark.usefixtures("ui_env")
App = Callable[..., AppTest]


def _texts(elements: Iterable[Any]) -> str:
    return "\n".join(str(e.value) for e in elements)


def _ask(at: AppTest, question: str) -> AppTest:
    return at.chat_input(key="question").set_value(question).run()


def _sql_box(at: AppTest, turn: int) -> TextArea:
    return at.text_area(key=f"sql_{turn}")


def test_login_required_and_wrong_password_refused(app: App) -> None:
    at = app()
    assert [t.value for t in at.title] == ["Credit analytics copilot"]
    at.text_input(key="login_user").input("ria")
    at.text_input(key="login_password").input("wrong")
    at.button(key="FormSubmitter:login-Log in").click().run()
    assert "Unknown user or wrong password" in _texts(at.error)
    assert "user" not in at.session_state


@pytest.mark.parametrize(("user", "teams"), [("ria", ["risk"]), ("asha", ["risk", "growth", "partnerships"])])
def test_team_choice_is_bound_to_login(app: App, user: str, teams: list[str]) -> None:
    at = app(user)
    assert not at.exception
    assert [t.value for t in at.title] == ["Ask"]
    assert list(at.sidebar.selectbox(key="team").options) == teams


def test_examples_come_from_the_catalog(app: App) -> None:
    from ui.examples import example_questions

    at = app("gautam")
    labels = [b.label for b in at.button if (b.key or "").startswith("example_")]
    assert sorted(labels) == sorted(example_questions("growth", 6)) and labels


def test_ask_renders_chart_caption_table_and_download(app: App, ui_world) -> None:
    at = _ask(app("ria"), "approval rate by partner last 7 days")
    assert not at.exception
    assert len(at.get("plotly_chart")) == 1
    with duckdb.connect(str(ui_world.replica), read_only=True) as con:
        top = con.execute("""
            SELECT p.name FROM decisions d JOIN partners p USING (partner_id)
            WHERE d.decided_at >= (SELECT max(decided_at)::DATE FROM decisions) - INTERVAL 6 DAY
            GROUP BY ALL ORDER BY avg(CASE WHEN decision = 'approve' THEN 1.0 ELSE 0 END) DESC LIMIT 1""").fetchone()
    caption = _texts(at.markdown)
    assert f"{top[0]} had the highest approval rate" in caption
    df = at.dataframe[0].value
    assert list(df.columns) == ["partner_name", "approval_rate"] or "approval_rate" in df.columns
    assert len(df) == 8
    assert any((b.key or "").startswith("csv_") for b in at.get("download_button"))
    assert "SELECT" in _sql_box(at, 1).value.upper()
    assert "Rows 1–8" in _texts(at.caption)


def test_single_number_is_a_kpi(app: App, ui_world) -> None:
    at = _ask(app("ria"), "approval rate last 7 days")
    with duckdb.connect(str(ui_world.replica), read_only=True) as con:
        rate = con.execute("""SELECT avg(CASE WHEN decision = 'approve' THEN 1.0 ELSE 0 END) FROM decisions
            WHERE decided_at >= (SELECT max(decided_at)::DATE FROM decisions) - INTERVAL 6 DAY""").fetchone()[0]
    assert [m.value for m in at.metric] == [f"{rate * 100:.1f}%"]


@pytest.mark.parametrize(("user", "sql", "rule"), [
    ("ria", "DELETE FROM decisions", "select_only"),
    ("gautam", "SELECT pan FROM applicants", "Blocked by the guardrails"),
    ("priya", "SELECT decision_id FROM decisions", "Blocked by the guardrails"),
])
def test_edited_forbidden_sql_is_blocked(app: App, user: str, sql: str, rule: str) -> None:
    at = _ask(app(user), "approval rate by partner last 30 days")
    _sql_box(at, 1).input(sql)
    at.button(key="run_1").click().run()
    assert not at.exception
    errors = _texts(at.error)
    assert "Blocked by the guardrails" in errors and rule in errors
    assert "read-only SELECTs over your team's tables" in _texts(at.info)  # the suggestion of what to do instead


def test_edited_valid_sql_runs_as_a_new_turn(app: App) -> None:
    at = _ask(app("ria"), "approval rate by partner last 30 days")
    _sql_box(at, 1).input("SELECT lender_id, count(*) AS decisions FROM decisions GROUP BY lender_id ORDER BY 1")
    at.button(key="run_1").click().run()
    assert not at.exception and not at.error
    results = [d.value for d in at.dataframe if "lender_id" in d.value.columns]
    assert len(results) == 1 and list(results[0]["lender_id"]) == ["L01", "L02", "L03", "L04", "L05"]
    assert "Edited SQL" in _texts(at.markdown)


def test_cannot_answer_is_friendly_with_suggestions(app: App) -> None:
    at = _ask(app("ria"), "what is the weather in Mumbai tomorrow?")
    assert not at.exception and not at.get("plotly_chart")
    assert "can't answer that" in _texts(at.warning)
    assert "For example" in _texts(at.info)


def test_empty_question_gets_a_precise_message(app: App) -> None:
    at = _ask(app("ria"), "   ?  ")
    assert "question is empty" in _texts(at.warning)


def test_follow_up_refines_the_last_answer(app: App) -> None:
    at = _ask(app("ria"), "approval rate by partner last 7 days")
    at = _ask(at, "and by lender?")
    assert not at.exception
    second = _sql_box(at, 2).value.lower()
    assert "lender" in second and "partner" in second
    assert len(at.chat_message) == 4  # two questions, two answers


def test_pages_of_results(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDIT_GUARDRAILS_PAGE_SIZE", "5")
    guardrail_settings.cache_clear()
    close_executors()  # reopened with the new page size
    at = _ask(app("ria"), "approval rate by partner last 7 days")
    assert not at.exception, at.exception
    assert "Rows 1–5 (more pages)" in _texts(at.caption)
    at.button(key="next_1").click().run()
    assert "Rows 6–8 · page 2" in _texts(at.caption)
    assert len(at.dataframe[0].value) == 3


def test_verify_stores_a_verified_query_and_bad_correction_is_refused(app: App, ui_env: Path) -> None:
    at = _ask(app("ria"), "approval rate by lender last 30 days")
    at.button(key="verify_1").click().run()
    assert "Saved as a verified query" in _texts(at.success)
    stored = VerifiedQueryStore(ui_env / "verified.duckdb").list("risk")
    assert [q.question for q in stored] == ["approval rate by lender last 30 days"]
    _sql_box(at, 1).input("DROP TABLE decisions")
    at.button(key="correct_1").click().run()
    assert "Correction refused" in _texts(at.error)
    assert VerifiedQueryStore(ui_env / "verified.duckdb").list("risk", status="candidate") == []
