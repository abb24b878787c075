"""Decisions and Monitoring pages through AppTest: look-up and PII per team, dashboards with data and without."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

App = Callable[..., AppTest]


def _texts(elements: Iterable[Any]) -> str:
    return "\n".join(str(e.value) for e in elements)


def _frames_text(at: AppTest) -> str:
    return "\n".join(d.value.to_csv() for d in at.dataframe)


def _decisions(at: AppTest) -> AppTest:
    return at.switch_page("views/decisions.py").run()


def _look_up(at: AppTest, decision_id: str) -> AppTest:
    at.text_input(key="decision_id").input(decision_id)
    return at.button(key="FormSubmitter:lookup-Look up").click().run()


@pytest.fixture(scope="module")
def sample(ui_world) -> dict:
    """A decision of the world with its application's lenders and its applicant's real PII (to prove masking)."""
    with duckdb.connect(str(ui_world.replica), read_only=True) as con:
        did, app_id, pan, name = con.execute("""
            SELECT d.decision_id, d.application_id, ap.pan, ap.full_name FROM decisions d
            JOIN applications a USING (application_id) JOIN applicants ap USING (applicant_id)
            ORDER BY d.decision_id LIMIT 1""").fetchone()
        lenders = [r[0] for r in con.execute("SELECT lender_id FROM decisions WHERE application_id = ? ORDER BY 1",
                                             [app_id]).fetchall()]
    return {"id": did, "pan": pan, "name": name, "lenders": lenders}


@pytest.mark.usefixtures("ui_env")
def test_risk_sees_decision_with_offers_and_masked_pii(app: App, sample: dict) -> None:
    at = _look_up(_decisions(app("ria")), sample["id"])
    assert not at.exception
    assert f"Decision {sample['id']}" in _texts(at.subheader)
    offers = next(d.value for d in at.dataframe if "lender_id" in d.value.columns)
    assert sorted(offers["lender_id"]) == sample["lenders"]
    shown = _frames_text(at)
    assert "bureau_score" in shown  # the feature vector
    assert sample["pan"] not in shown and sample["name"] not in shown
    assert "PII masked for team risk" in _texts(at.caption) and "pan" in _texts(at.caption)
    assert {m.label for m in at.metric} >= {"Outcome", "Model version", "Policy version"}


@pytest.mark.usefixtures("ui_env")
def test_growth_sees_no_pii_and_no_features(app: App, sample: dict) -> None:
    at = _look_up(_decisions(app("gautam")), sample["id"])
    assert not at.exception
    shown = _frames_text(at)
    assert sample["pan"] not in shown and "full_name" not in shown and "bureau_score" not in shown
    assert "does not see personal data" in _texts(at.caption)


@pytest.mark.usefixtures("ui_env")
def test_partnerships_cannot_look_up_decisions(app: App) -> None:
    at = _decisions(app("priya"))
    assert "aggregates only" in _texts(at.info)
    assert not at.text_input


@pytest.mark.usefixtures("ui_env")
@pytest.mark.parametrize(("typed", "message"), [("D-NOPE-L01", "no decision"), ("x' OR 1=1 --", "not a decision id")])
def test_bad_lookups_say_why(app: App, typed: str, message: str) -> None:
    at = _look_up(_decisions(app("ria")), typed)
    assert message in _texts(at.warning)


@pytest.mark.usefixtures("ui_env")
def test_monitoring_renders_rates_psi_alerts_and_diagnosis(app: App, ui_world) -> None:
    at = app("ria").switch_page("views/monitoring.py").run()
    assert not at.exception
    keys = {c.proto.id for c in at.get("plotly_chart")}
    assert len(keys) == 3  # rates, latency, PSI heatmap
    with duckdb.connect(str(ui_world.replica), read_only=True) as con:
        critical = con.execute("SELECT count(*) FROM alerts WHERE status = 'open' AND severity = 'critical'"
                               ).fetchone()[0]
    assert next(m.value for m in at.metric if m.label == "critical alerts") == str(critical)
    at.button(key="diagnose").click().run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 3 + 4  # waterfall, mix, features, daily
    labels = {m.label: m.value for m in at.metric}
    assert "approval_rate baseline" in labels and "Top cause" in labels


@pytest.mark.usefixtures("ui_env")
def test_monitoring_is_out_of_scope_for_growth(app: App) -> None:
    at = app("gautam").switch_page("views/monitoring.py").run()
    assert "outside the **growth** team's scope" in _texts(at.info)
    assert not at.get("plotly_chart")


@pytest.mark.usefixtures("empty_env")
@pytest.mark.parametrize("page", ["views/ask.py", "views/monitoring.py", "views/decisions.py"])
def test_empty_warehouse_says_which_command_builds_it(app: App, page: str) -> None:
    at = app("ria").switch_page(page).run()
    assert not at.exception
    info = _texts(at.info)
    assert "No warehouse yet" in info and "make run" in info and "python -m warehouse generate" in info
