"""Team slices: exactly the team's scope, never anything else; PII never sampled; join paths within scope."""

from __future__ import annotations

import duckdb
import pytest

from schema_catalog.catalog import Catalog, NoJoinPathError, build_catalog, extract_samples, sampleable_columns
from schema_catalog.teams import UnknownTeamError, team_scope
from warehouse.schema import load_schema


@pytest.fixture(scope="module")
def full() -> Catalog:
    return build_catalog({("partners", "name"): ("Paisabazaar",), ("applicants", "state"): ("Karnataka",)})


def test_unknown_team_raises_and_names_the_known_ones(full: Catalog) -> None:
    with pytest.raises(UnknownTeamError, match="configured teams: growth, partnerships, risk"):
        full.for_team("marketing")
    with pytest.raises(UnknownTeamError):
        full.for_team("")


@pytest.mark.parametrize("team", ["risk", "growth", "partnerships"])
def test_slice_holds_only_scope(full: Catalog, team: str) -> None:
    scope = team_scope(team)
    sliced = full.for_team(team)
    for table in sliced.tables.values():
        assert scope.allows_table(table.name)
        for col in table.columns.values():
            assert scope.allows_column(table.name, col.name), col.qualified
    for metric in sliced.metrics.values():
        for d in metric.definitions:
            assert all(scope.allows_column(t, c) for t, c in d.columns), (metric.name, d.table)
    for dim in sliced.dimensions.values():
        for dd in dim.definitions:
            assert all(scope.allows_column(t, c) for t, c in dd.columns), dim.name


@pytest.mark.parametrize(
    ("team", "forbidden_tables", "forbidden_columns", "forbidden_metrics", "forbidden_dimensions"),
    [
        ("growth", ["bureau_reports", "applicants", "repayments", "partner_lender_daily"],
         [("decisions", "features")], ["average_bureau_score", "thin_file_rate"], ["state", "bureau_score_band"]),
        ("partnerships", ["applications", "decisions", "applicants", "loans", "bureau_reports"], [],
         ["p95_latency_ms", "default_rate", "average_requested_amount"], ["state", "purpose", "decision"]),
        ("risk", ["partner_lender_daily"], [], ["take_up_rate"], []),
    ],
)
def test_slice_leaves_out_what_the_team_may_not_see(full: Catalog, team: str, forbidden_tables: list[str],
                                                    forbidden_columns: list[tuple[str, str]],
                                                    forbidden_metrics: list[str],
                                                    forbidden_dimensions: list[str]) -> None:
    sliced = full.for_team(team)
    assert not set(forbidden_tables) & set(sliced.tables)
    assert not any(sliced.has_column(t, c) for t, c in forbidden_columns)
    assert not set(forbidden_metrics) & set(sliced.metrics)
    assert not set(forbidden_dimensions) & set(sliced.dimensions)


def test_no_pii_column_for_teams_with_pii_denied(full: Catalog) -> None:
    for team in ("growth", "partnerships"):
        assert not [c.qualified for c in full.for_team(team).columns() if c.pii]
    risk = full.for_team("risk")
    assert risk.has_column("applicants", "pan") and risk.column("applicants", "pan").pii


def test_partnerships_metrics_use_the_daily_view(full: Catalog) -> None:
    p = full.for_team("partnerships")
    assert [d.table for d in p.metrics["approval_rate"].definitions] == ["partner_lender_daily"]
    assert [d.table for d in full.for_team("growth").metrics["approval_rate"].definitions] == ["decisions"]


def test_internal_tables_are_never_catalogued(full: Catalog) -> None:
    internal = {t.name for t in load_schema().tables.values() if t.internal}
    assert internal and not internal & set(full.tables)


def test_pii_columns_are_never_sampled(small_world) -> None:
    schema = load_schema()
    assert not [tc for tc in sampleable_columns() if schema.tables[tc[0]].column(tc[1]).pii]
    con = duckdb.connect(str(small_world.replica), read_only=True)
    try:
        samples = extract_samples(con)
        pii_values = {str(v) for (v,) in con.execute("SELECT pan FROM applicants LIMIT 500").fetchall()}
        pii_values |= {str(v) for (v,) in con.execute("SELECT full_name FROM applicants LIMIT 500").fetchall()}
    finally:
        con.close()
    assert samples, "the small world should yield samples"
    assert not [k for k in samples if schema.tables[k[0]].column(k[1]).pii]
    assert not pii_values & {v for vals in samples.values() for v in vals}
    assert "Paisabazaar" in samples[("partners", "name")]
    # even a sample passed in by hand for a PII column is dropped by the catalog
    assert build_catalog({("applicants", "pan"): ("ABCDE1234F",)}).column("applicants", "pan").samples == ()


@pytest.mark.parametrize(
    ("team", "start", "goal", "expected"),
    [
        ("risk", "decisions", "applicants", ["decisions.application_id=applications.application_id",
                                             "applications.applicant_id=applicants.applicant_id"]),
        ("risk", "loans", "partners", ["loans.decision_id=decisions.decision_id",
                                       "decisions.partner_id=partners.partner_id"]),
        ("partnerships", "partner_lender_daily", "lenders", ["partner_lender_daily.lender_id=lenders.lender_id"]),
    ],
)
def test_join_paths_prefer_many_to_one(full: Catalog, team: str, start: str, goal: str, expected: list[str]) -> None:
    path = full.for_team(team).join_path(start, goal)
    assert [f"{s.left_table}.{s.left_column}={s.right_table}.{s.right_column}" for s in path] == expected


def test_no_join_path_through_tables_out_of_scope(full: Catalog) -> None:
    with pytest.raises(NoJoinPathError):
        full.for_team("partnerships").join_path("partners", "decisions")
