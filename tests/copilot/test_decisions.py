"""On a backfilled world: decision metrics answer, and the numbers equal an independent hand-written query."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from copilot.pipeline import Copilot


@pytest.fixture
def decided(decided_world, settings) -> Iterator[Copilot]:
    c = Copilot(settings, replica=decided_world, use_retrieval=False)
    yield c
    c.close()


def _direct(replica, sql: str) -> dict:
    with duckdb.connect(str(replica), read_only=True) as con:
        return dict(con.execute(sql).fetchall())


@pytest.mark.parametrize("team", ["risk", "growth", "partnerships"])
def test_approval_rate_by_lender_last_7_days(decided: Copilot, decided_world, team: str) -> None:
    answer = decided.ask("approval rate by lender last 7 days", team)
    assert not answer.cannot_answer, answer.reason
    today = answer.anchor_date
    expected = _direct(decided_world, f"""
        SELECT l.name, avg(CASE WHEN d.decision = 'approve' THEN 1.0 ELSE 0 END)
        FROM decisions d JOIN lenders l USING (lender_id)
        WHERE d.decided_at >= DATE '{today}' - INTERVAL 6 DAY AND d.decided_at < DATE '{today}' + INTERVAL 1 DAY
        GROUP BY 1""")
    got = {r[0]: r[1] for r in answer.rows.rows}
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-9)
    assert answer.chart_type == "bar"
    assert answer.plan.time_window.label.startswith("last 7 days")


def test_anchor_is_latest_decision(decided: Copilot, decided_world) -> None:
    answer = decided.ask("number of decisions yesterday", "risk")
    with duckdb.connect(str(decided_world), read_only=True) as con:
        latest = con.execute("SELECT max(decided_at)::DATE FROM decisions").fetchone()[0]
        n = con.execute(f"SELECT count(*) FROM decisions WHERE decided_at::DATE = DATE '{latest}' - 1").fetchone()[0]
    assert answer.anchor_date == latest
    assert answer.rows.rows == [[n]] and answer.chart_type == "kpi"


def test_week_on_week_and_comparison(decided: Copilot) -> None:
    weekly = decided.ask("approval rate week on week", "partnerships")
    assert weekly.chart_type == "line" and weekly.rows.columns == ["week", "approval_rate"]
    versus = decided.ask("decline rate by channel this week vs last week", "risk")
    assert versus.rows.columns[:2] == ["period", "channel_type"]
    assert {r[0] for r in versus.rows.rows} == {"current", "previous"}
