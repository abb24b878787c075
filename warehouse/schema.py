"""Load the warehouse schema contract (``schema.yaml``) into typed objects.

The YAML file is the single source of truth: DDL, migrations, the copilot catalog and the PII guardrails all read it
through this module, so a column cannot exist in one place and be missing in another.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

SCHEMA_FILE = Path(__file__).with_name("schema.yaml")


@dataclass(frozen=True)
class Column:
    """One warehouse column as declared in the contract."""

    name: str
    type: str
    description: str
    pii: bool = False
    primary_key: bool = False
    references: str | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """One warehouse table as declared in the contract."""

    name: str
    description: str
    columns: tuple[Column, ...]
    synonyms: tuple[str, ...] = ()
    internal: bool = False
    view_sql: str | None = None
    """For views: the SELECT that defines them (``migrate`` creates or replaces the view)."""

    @property
    def is_view(self) -> bool:
        return self.view_sql is not None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    def ddl(self) -> str:
        """CREATE statement for this table (or CREATE OR REPLACE VIEW for a view)."""
        if self.view_sql is not None:
            return f"CREATE OR REPLACE VIEW {self.name} AS\n{self.view_sql}"
        cols = []
        for c in self.columns:
            col = f"{c.name} {c.type}"
            if c.primary_key:
                col += " PRIMARY KEY"
            cols.append(col)
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n  " + ",\n  ".join(cols) + "\n)"


@dataclass(frozen=True)
class Schema:
    """The whole contract: version, tables and the checksum of the file they came from."""

    version: int
    tables: dict[str, Table] = field(default_factory=dict)
    checksum: str = ""

    def table(self, name: str) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(f"unknown warehouse table {name!r}") from None

    @property
    def pii_columns(self) -> set[tuple[str, str]]:
        """Every (table, column) flagged as PII."""
        return {(t.name, c.name) for t in self.tables.values() for c in t.columns if c.pii}


def parse_schema(text: str) -> Schema:
    """Parse the YAML text of a schema contract."""
    raw = yaml.safe_load(text)
    tables: dict[str, Table] = {}
    entries = [(n, d, None) for n, d in raw["tables"].items()]
    entries += [(n, d, d["sql"]) for n, d in (raw.get("views") or {}).items()]
    for tname, tdef, view_sql in entries:
        cols = []
        for cname, cdef in tdef["columns"].items():
            cols.append(
                Column(
                    name=cname,
                    type=str(cdef["type"]),
                    description=str(cdef.get("description", "")).strip(),
                    pii=bool(cdef.get("pii", False)),
                    primary_key=bool(cdef.get("primary_key", False)),
                    references=cdef.get("references"),
                    values=tuple(cdef.get("values", ())),
                )
            )
        tables[tname] = Table(
            name=tname,
            description=str(tdef.get("description", "")).strip(),
            columns=tuple(cols),
            synonyms=tuple(tdef.get("synonyms", ())),
            internal=bool(tdef.get("internal", False)),
            view_sql=view_sql,
        )
    return Schema(version=int(raw["version"]), tables=tables, checksum=hashlib.sha256(text.encode()).hexdigest())


@lru_cache
def load_schema(path: Path = SCHEMA_FILE) -> Schema:
    """Load and cache the schema contract."""
    return parse_schema(path.read_text())
