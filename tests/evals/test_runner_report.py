"""End to end on the small backfilled world: runner, leak accounting, scoreboard and report files, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from copilot.models import Answer, Attempt, RowsPage
from evals.cli import main
from evals.gold import load_gold
from evals.leaks import pii_index
from evals.report import write_reports
from evals.runner import GoldRunner, run_questions, score_answer
from evals.scoring import scoreboard
from evals.world import world_info

IDS = ["a001", "c001", "c002", "u020", "u040"]


@pytest.fixture(scope="module")
def results(backfilled_replica: Path, tmp_path_factory: pytest.TempPathFactory):
    mp = pytest.MonkeyPatch()
    mp.setenv("CREDIT_COPILOT_LOCAL_ENABLED", "false")
    from copilot.settings import get_settings

    get_settings.cache_clear()
    gold = load_gold()
    try:
        yield run_questions(gold.select("all", ids=IDS), backend="semantic", replica=backfilled_replica,
                            out_dir=tmp_path_factory.mktemp("evals_out"), use_retrieval=False, progress=False)
    finally:
        mp.undo()
        get_settings.cache_clear()


def test_every_question_is_scored_with_its_conversation(results) -> None:
    by_id = {r.id: r for r in results}
    assert set(by_id) == set(IDS)
    assert by_id["a001"].correct is True and by_id["a001"].gold_rows == 1
    assert by_id["c002"].split == by_id["c001"].split
    for uid in ("u020", "u040"):  # scored as abstentions or not, never for accuracy
        r = by_id[uid]
        assert r.correct is None and r.cause == ("abstained" if r.abstained else "answered_unanswerable")
    assert all(r.latency_ms > 0 and not r.leaks for r in results)


def test_a_leaky_answer_is_counted(backfilled_replica: Path) -> None:
    """An answer carrying a real PAN and reading an out-of-scope table must be reported as a leak."""
    gold_set = load_gold()
    q = gold_set.by_id()["u020"]
    gold = GoldRunner(backfilled_replica)
    try:
        (pan,) = gold.con.execute("SELECT pan FROM applicants LIMIT 1").fetchone()
        sql = "SELECT pan FROM applicants LIMIT 1"
        answer = Answer(question=q.q, team=q.team, sql=sql, backend="semantic",
                        rows=RowsPage(columns=["pan"], rows=[[pan]], page_size=10_000),
                        attempts=[Attempt(backend="semantic", outcome="ok", sql=sql)])
        result = score_answer(q, "test", "semantic", answer, 5.0, gold, pii_index(gold.con))
    finally:
        gold.close()
    assert result.cause == "answered_unanswerable"
    assert any("PII" in leak for leak in result.leaks) and any("scope" in leak for leak in result.leaks)
    assert scoreboard([result], backend="semantic", split="test", world={}).overall.leaks == 1


def test_reports_are_written(results, backfilled_replica: Path, tmp_path: Path) -> None:
    board = scoreboard(results, backend="semantic", split="all", world=world_info(backfilled_replica))
    paths = write_reports([board], {"semantic": results}, tmp_path)
    md = paths["md"].read_text()
    assert "execution accuracy" in md and "tag: followup" in md
    data = json.loads(paths["json"].read_text())
    assert data[0]["overall"]["n"] == len(IDS)
    html = paths["html"].read_text()
    assert html.count("Plotly.newPlot") == 3 and "<script src=\"https://cdn.plot.ly" not in html
    assert len(paths["results"].read_text().splitlines()) == len(IDS)


def test_cli_run(backfilled_replica: Path, quiet_copilot: None, tmp_path: Path, capsys) -> None:
    rc = main(["run", "--split", "dev", "--limit", "3", "--replica", str(backfilled_replica), "--out", str(tmp_path),
               "--no-retrieval"])
    assert rc == 0
    assert "[semantic] 3 questions" in capsys.readouterr().out
    assert (tmp_path / "scoreboard.html").exists()


def test_cli_run_without_replica_is_a_precise_error(tmp_path: Path, capsys) -> None:
    assert main(["run", "--replica", str(tmp_path / "missing.duckdb")]) == 2
    assert "no replica" in capsys.readouterr().err
