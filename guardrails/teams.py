"""Adapter from the schema catalog's team scopes to :class:`guardrails.scope.Scope` (the only catalog import).

The rules never import the catalog; the CLI and :func:`validate_for_team` use this module to look a team up by name.
Column types and withheld PII columns come from the warehouse contract so struct and list columns qualify properly.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from guardrails.pipeline import ValidatedQuery, validate
from guardrails.scope import Scope, make_scope


def scope_from_team(team: Any, types: dict[str, dict[str, str]], all_pii: set[tuple[str, str]]) -> Scope:
    """Adapt any object shaped like ``schema_catalog.teams.TeamScope`` (name, tables, pii_columns, pii_policy,
    cost_limit_rows) to a guardrails :class:`Scope`, with column types and the PII columns hidden from it."""
    visible = {(t, c) for t, cols in team.tables.items() for c in cols}
    hidden = {(t, c) for t, c in all_pii if t in team.tables and (t, c) not in visible}
    return make_scope(
        team.name,
        {t: list(cols) for t, cols in team.tables.items()},
        types=types,
        pii_columns=team.pii_columns,
        pii_policy=team.pii_policy,
        cost_limit_rows=team.cost_limit_rows,
        hidden_pii_columns=hidden,
    )


@lru_cache(maxsize=16)
def team_scope(team: str) -> Scope:
    """The guardrails scope of a configured team (raises ``schema_catalog.teams.UnknownTeamError`` if unknown)."""
    from schema_catalog.teams import team_scope as catalog_team_scope
    from warehouse.schema import load_schema

    schema = load_schema()
    types = {t.name: {c.name: c.type for c in t.columns} for t in schema.tables.values()}
    return scope_from_team(catalog_team_scope(team), types, schema.pii_columns)


def validate_for_team(sql: str, team: str, *, connection: Any = None) -> ValidatedQuery:
    """Convenience: validate ``sql`` for a configured team by name."""
    return validate(sql, team_scope(team), connection=connection)
