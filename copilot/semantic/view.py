"""The team's slice of the schema catalog, as the planner and the compiler need it.

Metrics, dimensions, synonyms, sample values and join paths all belong to the schema catalog
(:class:`schema_catalog.catalog.Catalog`); this module only caches the team's slice and adds two planner policies:
sample values are looked up per *dimension*, and only many-to-one join paths are accepted (a one-to-many join would
multiply the metric's rows and silently inflate sums and counts).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property

import duckdb

from copilot.semantic.columns import ColumnLayer, build_column_layer
from schema_catalog.catalog import Catalog, JoinStep, NoJoinPathError, build_catalog, extract_samples
from schema_catalog.joins import many_to_one_path
from schema_catalog.semantic import Dimension, Metric
from schema_catalog.teams import TeamScope


@dataclass(frozen=True)
class TeamSemantics:
    """One team's catalog slice plus the lookups the planner makes on every question."""

    catalog: Catalog
    _paths: dict[tuple[str, str], list[JoinStep] | None] = field(default_factory=dict, repr=False, compare=False)

    @property
    def team(self) -> str:
        return self.catalog.team or ""

    @property
    def scope(self) -> TeamScope:
        assert self.catalog.scope is not None
        return self.catalog.scope

    @property
    def named_metrics(self) -> dict[str, Metric]:
        """The reviewed metrics of the semantic layer (what phrase matching, retrieval and LLMs see)."""
        return self.catalog.metrics

    @property
    def named_dimensions(self) -> dict[str, Dimension]:
        return self.catalog.dimensions

    @cached_property
    def columns(self) -> ColumnLayer:
        """Column-level metrics and dimensions derived from this slice (see :mod:`copilot.semantic.columns`)."""
        return build_column_layer(self.catalog, self.catalog.dimensions)

    @cached_property
    def metrics(self) -> dict[str, Metric]:
        """Everything the compiler can compute: the reviewed metrics, then the derived column metrics."""
        return {**self.columns.metrics, **self.catalog.metrics}

    @cached_property
    def dimensions(self) -> dict[str, Dimension]:
        return {**self.columns.dimensions, **self.catalog.dimensions}

    @cached_property
    def samples(self) -> dict[str, tuple[str, ...]]:
        """dimension name -> the catalog's sample values (or the contract's closed value list) of its columns."""
        out: dict[str, tuple[str, ...]] = {}
        for name, dim in self.named_dimensions.items():
            values: list[str] = []
            for d in dim.definitions:
                if len(d.columns) != 1:
                    continue  # a computed dimension (score band): its values are not column values
                (table, column), = d.columns
                if self.catalog.has_column(table, column):
                    info = self.catalog.column(table, column)
                    values.extend(info.samples or info.values)
            if values:
                out[name] = tuple(dict.fromkeys(values))
        out.update(self.columns.samples)
        return out

    def join_path(self, start: str, goal: str) -> list[JoinStep] | None:
        """The catalog's join path from ``start`` to ``goal`` if every step is many-to-one, else None (cached)."""
        key = (start, goal)
        if key not in self._paths:
            try:  # the fan-out rule lives in schema_catalog.joins, shared with the catalog check
                path: list[JoinStep] | None = many_to_one_path(self.catalog, start, goal)
            except NoJoinPathError:  # no path, or FanOutJoinError: a one-to-many step, refuse rather than fan out
                path = None
            self._paths[key] = path
        return self._paths[key]


_lock = threading.Lock()
_full: dict[str, Catalog] = {}
_teams: dict[tuple[str, str], TeamSemantics] = {}


def _full_catalog(replica: str | None, con: duckdb.DuckDBPyConnection | None) -> Catalog:
    """The full catalog with sample values read once through ``con`` (none: the contract's values only)."""
    key = replica or ""
    if key not in _full:
        _full[key] = build_catalog(extract_samples(con) if con is not None else None)
    return _full[key]


def semantics_for(catalog: Catalog) -> TeamSemantics:
    """Wrap a team slice the retriever already holds (same sample values as retrieval), cached per slice."""
    with _lock:
        key = (catalog.team or "", f"id:{id(catalog)}")
        if key not in _teams:
            _teams[key] = TeamSemantics(catalog)
        return _teams[key]


def team_semantics(team: str, replica: str | None = None,
                   con: duckdb.DuckDBPyConnection | None = None) -> TeamSemantics:
    """The team's catalog slice (cached per team and replica file); unknown teams raise the catalog's error."""
    with _lock:
        key = (team, replica or "")
        if key not in _teams:
            _teams[key] = TeamSemantics(_full_catalog(replica, con).for_team(team))
        return _teams[key]


def clear_cache() -> None:
    """Forget cached catalogs (after the replica or the semantic layer changed)."""
    with _lock:
        _full.clear()
        _teams.clear()
