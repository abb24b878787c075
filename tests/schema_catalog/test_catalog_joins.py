"""The fan-out rule shared by the copilot's planner and the catalog check (schema_catalog.joins)."""

from __future__ import annotations

import pytest

from schema_catalog.catalog import Catalog, JoinStep, NoJoinPathError, build_catalog
from schema_catalog.joins import FanOutJoinError, first_fan_out, is_many_to_one, many_to_one_path


@pytest.fixture(scope="module")
def full() -> Catalog:
    return build_catalog()


@pytest.mark.parametrize(("step", "expected"), [
    (JoinStep("decisions", "lender_id", "lenders", "lender_id"), True),  # follows the reference
    (JoinStep("lenders", "lender_id", "alerts", "lender_id"), False),  # the reference walked backwards
    (JoinStep("decisions", "decision_id", "loans", "decision_id"), False),
    (JoinStep("loans", "decision_id", "decisions", "decision_id"), True),
])
def test_is_many_to_one(full: Catalog, step: JoinStep, expected: bool) -> None:
    assert is_many_to_one(full, step) is expected


@pytest.mark.parametrize(("team", "start", "goal", "tables"), [
    ("risk", "decisions", "lenders", ["lenders"]),
    ("risk", "repayments", "lenders", ["loans", "lenders"]),
    ("risk", "decisions", "applicants", ["applications", "applicants"]),
    ("risk", "loans", "decisions", ["decisions"]),
    ("risk", "decisions", "decisions", []),
])
def test_many_to_one_path_accepts_forward_paths(full: Catalog, team: str, start: str, goal: str,
                                                tables: list[str]) -> None:
    path = many_to_one_path(full.for_team(team), start, goal)
    assert [s.right_table for s in path] == tables
    assert first_fan_out(full.for_team(team), path) is None


@pytest.mark.parametrize(("team", "start", "goal", "step"), [
    ("risk", "decisions", "alerts", "lenders.lender_id -> alerts.lender_id"),
    ("growth", "decisions", "loans", "decisions.decision_id -> loans.decision_id"),
    ("risk", "alerts", "decisions", "lenders.lender_id -> decisions.lender_id"),
])
def test_many_to_one_path_refuses_fan_out(full: Catalog, team: str, start: str, goal: str, step: str) -> None:
    with pytest.raises(FanOutJoinError, match=step) as err:
        many_to_one_path(full.for_team(team), start, goal)
    assert isinstance(err.value, NoJoinPathError)  # planners treat it as "not combinable"
    assert f"{err.value.step.left_table}.{err.value.step.left_column}" == step.split(" -> ")[0]
    assert err.value.step in err.value.path


def test_no_path_is_not_a_fan_out(full: Catalog) -> None:
    with pytest.raises(NoJoinPathError) as err:
        many_to_one_path(full.for_team("partnerships"), "partners", "decisions")
    assert not isinstance(err.value, FanOutJoinError)
