"""The seeded synthetic credit world: an Indian personal-loan marketplace with a known story.

Public entry point: :func:`generate_world` (also ``python -m warehouse generate``).

What other packages can rely on (default world: seed 42, 45 days x 50,000 from 2026-10-01):
- 7 established partners P01-P07 plus, with the ``new_partner`` story, P08 "QuickRupee Instant Loans" (app,
  subprime) live 21 days before the end, ramping to about 28% of daily volume; 5 lenders L01-L05 (two banks, three
  NBFCs, appetite from prime to subprime, see ``entities.LENDERS``).
- ``ground_truth.true_pd`` is the hidden 12-month 90+ DPD probability; the share of applications with
  ``true_pd < 0.08`` (a proxy for the approve share) falls from about 34% to 27% once P08 is live.
- Internal history (``loans`` with ``decision_id`` NULL and their ``repayments``) ends the day before the window.
- Scenario switches and their first active dates are in ``world_events``; ``world_runs`` holds the parameters.
"""

from warehouse.world.checksums import table_checksums
from warehouse.world.generator import (
    DEFAULT_START_DATE,
    WORLD_TABLES,
    InvalidWorldParametersError,
    WorldParams,
    WorldSummary,
    generate_world,
)
from warehouse.world.scenarios import (
    DEFAULT_SCENARIOS,
    SCENARIO_NAMES,
    SCENARIOS,
    ScenarioConflictError,
    UnknownScenarioError,
)

__all__ = [
    "DEFAULT_SCENARIOS",
    "DEFAULT_START_DATE",
    "SCENARIOS",
    "SCENARIO_NAMES",
    "WORLD_TABLES",
    "InvalidWorldParametersError",
    "ScenarioConflictError",
    "UnknownScenarioError",
    "WorldParams",
    "WorldSummary",
    "generate_world",
    "table_checksums",
]
