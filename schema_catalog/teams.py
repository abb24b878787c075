"""Team scopes: which tables and columns each analyst team may see.

Deny by default. ``teams.yaml`` lists, per team, the tables it may read and either ``"*"`` (every column of the table
in the warehouse contract) or an explicit column list. The scope resolved here is the one truth that the catalog,
the retrieval index, the guardrails and the team views all use, so they cannot disagree about what a team sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml

from warehouse.schema import Schema, load_schema

TEAMS_FILE = Path(__file__).with_name("teams.yaml")

PiiPolicy = Literal["masked", "denied"]


class UnknownTeamError(KeyError):
    """Raised for a team that is not configured; the message lists the teams that are."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


class TeamConfigError(ValueError):
    """teams.yaml names a table or column the warehouse contract does not have."""


@dataclass(frozen=True)
class TeamScope:
    """Resolved scope of one team: visible tables, their visible columns, and the PII columns among them."""

    name: str
    description: str
    pii_policy: PiiPolicy
    tables: dict[str, tuple[str, ...]]
    pii_columns: frozenset[tuple[str, str]]
    cost_limit_rows: int

    def allows_table(self, table: str) -> bool:
        return table.lower() in self.tables

    def allows_column(self, table: str, column: str) -> bool:
        return column.lower() in self.tables.get(table.lower(), ())

    def is_pii(self, table: str, column: str) -> bool:
        return (table.lower(), column.lower()) in self.pii_columns


def _resolve(name: str, raw: dict, schema: Schema) -> TeamScope:
    policy = raw.get("pii", "denied")
    if policy not in ("masked", "denied"):
        raise TeamConfigError(f"team {name!r}: pii must be 'masked' or 'denied', not {policy!r}")
    tables: dict[str, tuple[str, ...]] = {}
    pii: set[tuple[str, str]] = set()
    for table_name, cols in (raw.get("tables") or {}).items():
        if table_name not in schema.tables:
            raise TeamConfigError(f"team {name!r}: unknown table {table_name!r}")
        table = schema.tables[table_name]
        wanted = table.column_names if cols == "*" else list(cols)
        for col in wanted:
            if col not in table.column_names:
                raise TeamConfigError(f"team {name!r}: table {table_name!r} has no column {col!r}")
        visible = []
        for col in wanted:
            is_pii = table.column(col).pii
            if is_pii and policy == "denied":
                continue  # deny by default: a team without PII rights never sees the column at all
            if is_pii:
                pii.add((table_name, col))
            visible.append(col)
        tables[table_name] = tuple(visible)
    return TeamScope(
        name=name,
        description=str(raw.get("description", "")).strip(),
        pii_policy=policy,
        tables=tables,
        pii_columns=frozenset(pii),
        cost_limit_rows=int(raw.get("cost_limit_rows", 1_000_000_000)),
    )


def parse_teams(text: str, schema: Schema | None = None) -> dict[str, TeamScope]:
    """Parse teams YAML text against the warehouse contract."""
    schema = schema or load_schema()
    raw = yaml.safe_load(text) or {}
    return {name: _resolve(name, body or {}, schema) for name, body in (raw.get("teams") or {}).items()}


@lru_cache
def load_teams(path: Path = TEAMS_FILE) -> dict[str, TeamScope]:
    """All configured team scopes (cached)."""
    return parse_teams(path.read_text())


def team_scope(team: str) -> TeamScope:
    """The scope of one team; an unknown team raises :class:`UnknownTeamError` naming the known ones."""
    teams = load_teams()
    try:
        return teams[team]
    except KeyError:
        raise UnknownTeamError(f"unknown team {team!r}; configured teams: {', '.join(sorted(teams))}") from None
