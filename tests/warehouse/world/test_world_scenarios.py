"""The injected stories: the new partner (default) and each monitoring scenario switch leave their trace."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from warehouse.world import ScenarioConflictError, UnknownScenarioError, generate_world, table_checksums
from warehouse.world.generator import InvalidWorldParametersError

ALL = ("new_partner", "bureau_format_change", "feature_zero", "threshold_misconfig")


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple:
    return con.execute(sql, params or []).fetchone()


@pytest.fixture(scope="module")
def small(small_world) -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect(str(small_world.replica), read_only=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def all_switches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    path = tmp_path_factory.mktemp("all_switches") / "w.duckdb"
    generate_world(path, days=24, per_day=400, seed=3, scenarios=ALL, progress=False)
    c = duckdb.connect(str(path), read_only=True)
    yield c
    c.close()


def test_new_partner_goes_live_21_days_before_the_end(small, small_world) -> None:
    onboarded, event = one(small, "SELECT onboarded_on, (SELECT event_date FROM world_events "
                                  "WHERE scenario = 'new_partner') FROM partners WHERE partner_id = 'P08'")
    end = small_world.start_date + dt.timedelta(days=small_world.days)
    assert onboarded == event == end - dt.timedelta(days=21)
    before, first = one(small, "SELECT count(*) FILTER (WHERE received_at < ?), min(received_at)::DATE "
                               "FROM applications WHERE partner_id = 'P08'", [onboarded])
    assert before == 0 and first == onboarded


def test_new_partner_sends_a_large_share_of_worse_applicants(small) -> None:
    share, p08_pd, others_pd = one(small, """
        SELECT avg((partner_id = 'P08')::INT), avg(true_pd) FILTER (WHERE partner_id = 'P08'),
               avg(true_pd) FILTER (WHERE partner_id <> 'P08')
        FROM applications JOIN ground_truth USING (application_id)
        WHERE received_at >= (SELECT onboarded_on + 4 FROM partners WHERE partner_id = 'P08')""")
    assert 0.25 <= share <= 0.35
    assert p08_pd > 1.6 * others_pd


def test_approvable_share_falls_in_the_last_three_weeks(small) -> None:
    """Proxy of the approval rate with no model change: share of applicants with a true PD under 8%."""
    before, after = one(small, """
        WITH e AS (SELECT event_date FROM world_events WHERE scenario = 'new_partner')
        SELECT avg((true_pd < 0.08)::INT) FILTER (WHERE received_at < (SELECT event_date FROM e)),
               avg((true_pd < 0.08)::INT) FILTER (WHERE received_at >= (SELECT event_date FROM e) + 4)
        FROM applications JOIN ground_truth USING (application_id)""")
    assert 0.29 <= before <= 0.40
    assert before - after >= 0.05


def test_all_switches_are_recorded_with_their_dates(all_switches) -> None:
    label = one(all_switches, "SELECT scenario FROM world_runs")[0]
    assert label == ",".join(ALL)
    events = dict(all_switches.execute("SELECT scenario, event_date FROM world_events").fetchall())
    start = dt.date(2026, 10, 1)
    assert events == {"new_partner": start + dt.timedelta(days=3), "bureau_format_change": start
                      + dt.timedelta(days=14), "feature_zero": start + dt.timedelta(days=17),
                      "threshold_misconfig": start + dt.timedelta(days=19)}


def test_bureau_format_change_inflates_dpd30_from_its_date(all_switches) -> None:
    wrong_version, before, after = one(all_switches, """
        WITH e AS (SELECT event_date AS d FROM world_events WHERE scenario = 'bureau_format_change')
        SELECT count(*) FILTER (WHERE (report_format_version = 'v3') <> (received_at >= (SELECT d FROM e))),
               avg(dpd30_count_12m) FILTER (WHERE received_at < (SELECT d FROM e) AND NOT thin_file),
               avg(dpd30_count_12m) FILTER (WHERE received_at >= (SELECT d FROM e) AND NOT thin_file)
        FROM bureau_reports JOIN applications USING (application_id)""")
    assert wrong_version == 0
    assert after > 2 * before


def test_feature_zero_silently_zeroes_utilisation(all_switches) -> None:
    zero_before, zero_after, null_after = one(all_switches, """
        WITH e AS (SELECT event_date AS d FROM world_events WHERE scenario = 'feature_zero')
        SELECT avg((utilisation_pct = 0)::INT) FILTER (WHERE received_at < (SELECT d FROM e) AND NOT thin_file),
               avg((utilisation_pct = 0)::INT) FILTER (WHERE received_at >= (SELECT d FROM e)),
               count(*) FILTER (WHERE received_at >= (SELECT d FROM e) AND utilisation_pct IS NULL)
        FROM bureau_reports JOIN applications USING (application_id)""")
    assert zero_before < 0.05
    assert zero_after == 1.0 and null_after == 0


def test_threshold_misconfig_changes_no_generated_data(tmp_path: Path) -> None:
    with_switch, without = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    generate_world(with_switch, days=6, per_day=150, seed=5, scenarios=("threshold_misconfig",), progress=False)
    generate_world(without, days=6, per_day=150, seed=5, scenarios=("none",), progress=False)
    sums = []
    for path in (with_switch, without):
        with duckdb.connect(str(path), read_only=True) as c:
            sums.append(table_checksums(c))
    events_a, events_b = sums[0].pop("world_events"), sums[1].pop("world_events")
    assert sums[0] == sums[1]
    assert events_a.startswith("1:") and events_b.startswith("0:")


def test_none_scenario_has_no_new_partner(tmp_path: Path) -> None:
    path = tmp_path / "none.duckdb"
    generate_world(path, days=4, per_day=100, seed=5, scenarios=("none",), progress=False)
    with duckdb.connect(str(path), read_only=True) as c:
        assert one(c, "SELECT scenario FROM world_runs")[0] == "none"
        assert one(c, "SELECT count(*) FROM partners WHERE partner_id = 'P08'")[0] == 0
        assert one(c, "SELECT count(*) FROM world_events")[0] == 0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"scenarios": ("bogus",)}, UnknownScenarioError),
        ({"scenarios": ("none", "feature_zero")}, ScenarioConflictError),
        ({"days": 0}, InvalidWorldParametersError),
        ({"per_day": -5}, InvalidWorldParametersError),
        ({"seed": -1}, InvalidWorldParametersError),
    ],
)
def test_bad_parameters_are_rejected_before_any_file_is_written(tmp_path: Path, kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        generate_world(tmp_path / "w.duckdb", progress=False, **{"days": 2, "per_day": 10, **kwargs})
    assert list(tmp_path.iterdir()) == []
