"""Scenario switches: the stories injected into the synthetic world, and when each one takes effect.

Each switch is named, validated up front (an unknown name is a typed error, never a silent no-op) and dated relative
to the end of the simulated window, so a short test world carries the same story as the 45-day default.
The dates land in the ``world_events`` table so the monitoring job, the backfill and the tests can find them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

NONE = "none"


class UnknownScenarioError(ValueError):
    """A scenario name that the generator does not know."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown scenario {name!r}; known scenarios: {', '.join(SCENARIO_NAMES)}")


class ScenarioConflictError(ValueError):
    """Scenario switches that contradict each other (``none`` together with a real scenario)."""


@dataclass(frozen=True)
class ScenarioSpec:
    """A scenario switch: its name, how many days before the end it starts, and what it does."""

    name: str
    days_before_end: int
    detail: str


SCENARIOS: dict[str, ScenarioSpec] = {
    spec.name: spec
    for spec in (
        ScenarioSpec(
            "new_partner",
            21,
            "New partner channel P08 (app) goes live and sends about 30% of daily volume of lower-quality applicants.",
        ),
        ScenarioSpec(
            "bureau_format_change",
            10,
            "Bureau switches to report format v3: dpd30_count_12m is reported more conservatively (inflated for the "
            "same risk).",
        ),
        ScenarioSpec(
            "feature_zero",
            7,
            "Bureau feed silently sends utilisation_pct = 0 for every report (a feature defaulting to zero).",
        ),
        ScenarioSpec(
            "threshold_misconfig",
            5,
            "A mis-set approval threshold is deployed from this date (applied by the backfill, nothing generated).",
        ),
    )
}
SCENARIO_NAMES: tuple[str, ...] = (*SCENARIOS, NONE)
DEFAULT_SCENARIOS: tuple[str, ...] = ("new_partner",)


def normalise_scenarios(names: Sequence[str]) -> tuple[str, ...]:
    """Validate scenario names and return them de-duplicated in canonical order.

    ``none`` means "no story"; combining it with a real scenario is contradictory and rejected.
    """
    requested = [n.strip() for n in names if n.strip()]
    for name in requested:
        if name not in SCENARIO_NAMES:
            raise UnknownScenarioError(name)
    if NONE in requested and len(set(requested)) > 1:
        raise ScenarioConflictError("scenario 'none' cannot be combined with other scenarios")
    return tuple(n for n in SCENARIOS if n in requested)


def start_offset(spec: ScenarioSpec, days: int) -> int:
    """Day index (0-based) from which a scenario is active.

    ``days_before_end`` counted back from the end when the window is long enough; a short window starts the switch
    at its middle so the before/after contrast still exists.
    """
    if days - spec.days_before_end >= 1:
        return days - spec.days_before_end
    return max(1, days // 2) if days > 1 else 0


def scenario_start_dates(scenarios: Sequence[str], start_date: dt.date, days: int) -> dict[str, dt.date]:
    """First active date per scenario."""
    return {n: start_date + dt.timedelta(days=start_offset(SCENARIOS[n], days)) for n in scenarios}
