"""The scope a query is validated against: which tables and columns a team may read, and which are PII.

The rules take this plain object, never the catalog, so ``guardrails`` depends on sqlglot alone and can be tested with
hand-made scopes. :func:`guardrails.teams.team_scope` adapts the schema catalog's team scopes to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from sqlglot.schema import MappingSchema

PiiPolicy = Literal["masked", "denied"]

UNKNOWN_TYPE = "UNKNOWN"


@dataclass(frozen=True)
class Scope:
    """Tables (with visible columns and their DuckDB types), PII flags and the cost limit of one team.

    ``hidden_pii_columns`` are PII columns that exist in a visible table but are withheld from this team: naming one
    raises :class:`~guardrails.errors.PiiAccessError` rather than a plain unknown-column error, so the analyst learns
    why. ``pii_columns`` are PII columns the team may use; every output derived from them is masked.
    """

    name: str
    tables: Mapping[str, Mapping[str, str]]
    pii_columns: frozenset[tuple[str, str]] = frozenset()
    pii_policy: PiiPolicy = "denied"
    cost_limit_rows: int = 1_000_000_000
    hidden_pii_columns: frozenset[tuple[str, str]] = frozenset()
    key: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tables = {t.lower(): {c.lower(): ty for c, ty in cols.items()} for t, cols in self.tables.items()}
        object.__setattr__(self, "tables", tables)
        frozen = tuple(sorted((t, tuple(cols.items())) for t, cols in tables.items()))  # column order kept
        object.__setattr__(self, "key", (self.name, frozen))

    def allows_table(self, table: str) -> bool:
        return table.lower() in self.tables

    def allows_column(self, table: str, column: str) -> bool:
        return column.lower() in self.tables.get(table.lower(), {})

    def is_pii(self, table: str, column: str) -> bool:
        return (table.lower(), column.lower()) in self.pii_columns

    def is_hidden_pii(self, table: str, column: str) -> bool:
        return (table.lower(), column.lower()) in self.hidden_pii_columns


def make_scope(
    name: str,
    tables: Mapping[str, Iterable[str] | Mapping[str, str]],
    *,
    types: Mapping[str, Mapping[str, str]] | None = None,
    pii_columns: Iterable[tuple[str, str]] = (),
    pii_policy: PiiPolicy = "denied",
    cost_limit_rows: int = 1_000_000_000,
    hidden_pii_columns: Iterable[tuple[str, str]] = (),
) -> Scope:
    """Build a :class:`Scope` from column lists (types from ``types``, else ``UNKNOWN``) or column->type maps."""
    types = types or {}
    resolved: dict[str, dict[str, str]] = {}
    for table, cols in tables.items():
        if isinstance(cols, Mapping):
            resolved[table] = dict(cols)
        else:
            table_types = types.get(table, {})
            resolved[table] = {c: table_types.get(c, UNKNOWN_TYPE) for c in cols}
    return Scope(
        name=name,
        tables=resolved,
        pii_columns=frozenset((t.lower(), c.lower()) for t, c in pii_columns),
        pii_policy=pii_policy,
        cost_limit_rows=cost_limit_rows,
        hidden_pii_columns=frozenset((t.lower(), c.lower()) for t, c in hidden_pii_columns),
    )


@lru_cache(maxsize=64)
def _schema_for(key: tuple, dialect: str) -> MappingSchema:
    _, frozen = key
    return MappingSchema({t: dict(cols) for t, cols in frozen}, dialect=dialect)


def sqlglot_schema(scope: Scope, dialect: str = "duckdb") -> MappingSchema:
    """The sqlglot schema of a scope, built once per scope content (validation stays fast)."""
    return _schema_for(scope.key, dialect)
