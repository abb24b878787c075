"""Typed loader of the semantic layer (``semantic.yaml``): metrics, dimensions and column synonyms.

The columns a definition uses are derived from its SQL with sqlglot rather than declared by hand, so the team
visibility rule ("a metric is visible iff every column it uses is in scope") cannot drift from the SQL itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import sqlglot
import yaml
from sqlglot import exp

from warehouse.schema import Schema, load_schema

SEMANTIC_FILE = Path(__file__).with_name("semantic.yaml")
TIME_PLACEHOLDER = "{time}"

MetricFormat = Literal["percent", "currency_inr", "count", "ms", "score", "number"]
DimensionKind = Literal["category", "time"]


class SemanticLayerError(ValueError):
    """semantic.yaml is malformed or names a table or column the warehouse contract does not have."""


@dataclass(frozen=True)
class MetricDefinition:
    """One way to compute a metric: an aggregate over rows of ``table``, dated by ``time``."""

    table: str
    sql: str
    time: str | None
    columns: frozenset[tuple[str, str]]
    note: str = ""

    @property
    def time_column(self) -> str | None:
        """Qualified time column (``decisions.decided_at``) or None."""
        return f"{self.table}.{self.time}" if self.time else None


@dataclass(frozen=True)
class Metric:
    """A named business metric with one or more definitions (first usable one wins)."""

    name: str
    label: str
    synonyms: tuple[str, ...]
    description: str
    format: MetricFormat
    definitions: tuple[MetricDefinition, ...]

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(d.table for d in self.definitions)


@dataclass(frozen=True)
class DimensionDefinition:
    """A row-level expression over ``table`` (``*`` for time dimensions, which template ``{time}``)."""

    table: str
    sql: str
    columns: frozenset[tuple[str, str]]

    def render(self, time_column: str | None = None) -> str:
        """SQL of the dimension; time dimensions need the metric definition's qualified time column."""
        if TIME_PLACEHOLDER in self.sql:
            if not time_column:
                raise SemanticLayerError("a time dimension needs the metric's time column")
            return self.sql.replace(TIME_PLACEHOLDER, time_column)
        return self.sql


@dataclass(frozen=True)
class Dimension:
    """A named way to slice metrics (partner, state, month...)."""

    name: str
    label: str
    kind: DimensionKind
    synonyms: tuple[str, ...]
    description: str
    definitions: tuple[DimensionDefinition, ...]


@dataclass(frozen=True)
class SemanticLayer:
    metrics: dict[str, Metric]
    dimensions: dict[str, Dimension]
    column_synonyms: dict[tuple[str, str], tuple[str, ...]]
    no_samples: frozenset[tuple[str, str]]
    value_synonyms: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    """dimension -> value -> words analysts use for that value ("rejected" for decline, "women" for female)."""


def columns_used(sql: str, schema: Schema) -> frozenset[tuple[str, str]]:
    """Every (table, column) an expression names; struct paths (decisions.features.x) map to their column.

    Unqualified columns are refused: with several tables joined they would be ambiguous for the planner.
    """
    try:
        tree = sqlglot.parse_one(sql.replace(TIME_PLACEHOLDER, "__time__"), read="duckdb")
    except sqlglot.errors.ParseError as err:
        raise SemanticLayerError(f"cannot parse {sql!r}: {err}") from err
    found: set[tuple[str, str]] = set()
    for col in tree.find_all(exp.Column):
        parts = [p.name for p in col.parts]
        if parts == ["__time__"]:
            continue
        for i, part in enumerate(parts[:-1]):
            if part in schema.tables:
                table = schema.tables[part]
                if parts[i + 1] not in table.column_names:
                    raise SemanticLayerError(f"{sql!r}: table {part!r} has no column {parts[i + 1]!r}")
                found.add((part, parts[i + 1]))
                break
        else:
            raise SemanticLayerError(f"{sql!r}: column {'.'.join(parts)!r} must be qualified by a warehouse table")
    return frozenset(found)


def _split(qualified: str, schema: Schema) -> tuple[str, str]:
    table, _, column = qualified.partition(".")
    if table not in schema.tables or column not in schema.tables[table].column_names:
        raise SemanticLayerError(f"unknown warehouse column {qualified!r}")
    return table, column


def parse_semantic(text: str, schema: Schema | None = None) -> SemanticLayer:
    """Parse semantic YAML text against the warehouse contract (typos fail here, not in a planner)."""
    schema = schema or load_schema()
    raw = yaml.safe_load(text) or {}
    metrics: dict[str, Metric] = {}
    for name, body in (raw.get("metrics") or {}).items():
        defs = []
        for d in body.get("definitions") or []:
            table = d["table"]
            if table not in schema.tables:
                raise SemanticLayerError(f"metric {name!r}: unknown table {table!r}")
            time = d.get("time")
            if time and time not in schema.tables[table].column_names:
                raise SemanticLayerError(f"metric {name!r}: table {table!r} has no time column {time!r}")
            cols = columns_used(d["sql"], schema)
            if any(t != table for t, _ in cols):
                raise SemanticLayerError(f"metric {name!r}: a definition may only use columns of its table {table!r}")
            defs.append(MetricDefinition(table, " ".join(d["sql"].split()), time, cols, str(d.get("note", ""))))
        if not defs:
            raise SemanticLayerError(f"metric {name!r} has no definitions")
        metrics[name] = Metric(
            name=name,
            label=body.get("label", name),
            synonyms=tuple(body.get("synonyms") or ()),
            description=str(body.get("description", "")).strip(),
            format=body.get("format", "number"),
            definitions=tuple(defs),
        )
    dimensions: dict[str, Dimension] = {}
    for name, body in (raw.get("dimensions") or {}).items():
        kind = body.get("kind", "category")
        defs_d = []
        for d in body.get("definitions") or []:
            table = d["table"]
            if table != "*" and table not in schema.tables:
                raise SemanticLayerError(f"dimension {name!r}: unknown table {table!r}")
            cols = columns_used(d["sql"], schema)
            if any(t != table for t, _ in cols):
                raise SemanticLayerError(f"dimension {name!r}: a definition may only use columns of {table!r}")
            defs_d.append(DimensionDefinition(table, " ".join(d["sql"].split()), cols))
        dimensions[name] = Dimension(
            name=name,
            label=body.get("label", name),
            kind=kind,
            synonyms=tuple(body.get("synonyms") or ()),
            description=str(body.get("description", "")).strip(),
            definitions=tuple(defs_d),
        )
    synonyms = {_split(k, schema): tuple(v) for k, v in (raw.get("column_synonyms") or {}).items()}
    no_samples = frozenset(_split(k, schema) for k in raw.get("no_samples") or ())
    value_synonyms: dict[str, dict[str, tuple[str, ...]]] = {}
    for dim, mapping in (raw.get("value_synonyms") or {}).items():
        if dim not in dimensions:
            raise SemanticLayerError(f"value_synonyms: unknown dimension {dim!r}")
        value_synonyms[dim] = {str(v): tuple(words) for v, words in mapping.items()}
    return SemanticLayer(metrics, dimensions, synonyms, no_samples, value_synonyms)


@lru_cache
def load_semantic(path: Path = SEMANTIC_FILE) -> SemanticLayer:
    """The reviewed semantic layer (cached)."""
    return parse_semantic(path.read_text())
