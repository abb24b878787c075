"""Root-cause diagnosis: each injected story alone is ranked first, with the right kind and subject."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from warehouse.monitoring.cli import main
from warehouse.monitoring.diagnose import UnknownMetricError, Window, diagnose
from warehouse.monitoring.report import write_report


def _windows(con: duckdb.DuckDBPyConnection) -> tuple[Window, Window]:
    """Baseline = every day before the story starts; current = the story's days."""
    start = con.execute("SELECT min(event_date) FROM world_events").fetchone()[0]
    lo, hi = con.execute("SELECT min(decided_at)::DATE, max(decided_at)::DATE FROM decisions").fetchone()
    return Window(lo, start - dt.timedelta(days=1)), Window(start, hi)


def test_default_world_new_partner_is_the_main_cause(monitored_world: Path) -> None:
    with duckdb.connect(str(monitored_world), read_only=True) as con:
        base, cur = _windows(con)
        cur = Window(cur.start + dt.timedelta(days=4), cur.end)  # after the new partner's ramp-up
        d = diagnose(con, "approval_rate", base, cur)
    assert d.change < -0.03  # the story: approvals drop
    top = d.top
    assert (top.kind, top.partner_id, top.rank) == ("mix_shift", "P08", 1)
    assert 0.6 < top.share_of_change <= 1.2
    assert top.evidence["top_partner_share_of_change"] == pytest.approx(
        top.evidence["partner_contributions"]["P08"] / d.change, abs=1e-4)
    assert d.decomposition["check_sum"] == pytest.approx(d.change)  # mix + within + interaction is exact
    assert sum(c.contribution for c in d.causes) == pytest.approx(d.change)
    assert d.causes[-1].kind in {"unexplained", "model_drift"}  # model drift is examined last


@pytest.mark.parametrize(("scenario", "kind", "subject"), [
    ("bureau_format_change", "bureau_reporting_change", ("feature", "dpd30_count_12m")),
    ("feature_zero", "feature_zero_default", ("feature", "utilisation_pct")),
    ("threshold_misconfig", "threshold_policy_change", ("lender_id", "L04")),
])
def test_each_injected_cause_is_ranked_first(scenario_world, scenario: str, kind: str,
                                             subject: tuple[str, str]) -> None:
    with duckdb.connect(str(scenario_world(scenario)), read_only=True) as con:
        d = diagnose(con, "approval_rate", *_windows(con))
    top = d.top
    assert top.kind == kind, [(c.kind, c.title, round(c.share_of_change, 2)) for c in d.causes]
    assert getattr(top, subject[0]) == subject[1]
    assert top.share_of_change > 0.5
    assert not [c for c in d.causes if c.kind == "mix_shift" and abs(c.share_of_change) > 0.2]
    assert sum(c.contribution for c in d.causes) == pytest.approx(d.change)


def test_bureau_change_evidence_names_the_format_versions(scenario_world) -> None:
    with duckdb.connect(str(scenario_world("bureau_format_change")), read_only=True) as con:
        base, cur = _windows(con)
        d = diagnose(con, "approval_rate", base, cur)
    ev = d.top.evidence
    assert ev["report_format_change"] == {"date": str(cur.start), "from": "v2", "to": "v3"}
    assert ev["change_date"] == str(cur.start) and ev["abrupt"] and ev["mean_after"] > ev["mean_before"]


def test_report_json_and_html(monitored_world: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(monitored_world), read_only=True) as con:
        d = diagnose(con, "approval_rate", *_windows(con))
    json_path, html_path = write_report(d, tmp_path)
    data = json.loads(json_path.read_text())
    assert data["causes"][0]["kind"] == "mix_shift" and data["metric"] == "approval_rate"
    page = html_path.read_text()
    assert "Partner mix shift" in page and page.count('class="plotly-graph-div"') == 4


def test_cli_diagnose(monitored_world: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["diagnose", "--metric", "approval_rate", "--baseline", "2026-10-01:2026-10-09",
                 "--current", "2026-10-14:2026-10-30", "--path", str(monitored_world), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "1. [" in out and "P08" in out.splitlines()[1]
    assert len(list(tmp_path.glob("approval_rate-*.html"))) == 1


@pytest.mark.parametrize("text", ["2026-10-01", "2026-10-21:2026-10-01", "yesterday:today"])
def test_bad_windows_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="window"):
        Window.parse(text)


def test_unknown_metric(monitored_world: Path) -> None:
    with duckdb.connect(str(monitored_world), read_only=True) as con, pytest.raises(UnknownMetricError):
        diagnose(con, "profit", "2026-10-01:2026-10-09", "2026-10-14:2026-10-30")
