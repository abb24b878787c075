"""The seeded synthetic credit world: an Indian personal-loan marketplace with a known story.

Public entry point: :func:`generate_world` (also ``python -m warehouse generate``).
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
