"""Column-level vocabulary derived from the team's catalog: what analysts ask about that no named metric covers.

The reviewed semantic layer names the business metrics (approval rate, disbursed amount...). Analysts also ask
plain column questions: "average enquiries in the last 90 days", "how many loans are delinquent", "applications
above 5 lakh", "alerts by status". Rather than adding a named metric per column by hand, this module derives, from
the *team's* catalog slice (so scope and PII rules hold by construction):

* per numeric column (and numeric struct field such as ``decisions.features.loan_to_income``): avg/sum/min/max/
  median metrics and a row-level dimension used for threshold filters;
* per categorical or boolean column not already covered by a named dimension: a dimension (for grouping and for
  value or true/false filters);
* per table: a row-count metric, with further definitions that count distinct references to it from tables that
  point at it (so "applicants with a bureau score below 600" counts applicants over the bureau reports).

Names are prefixed (``avg__``, ``col__``, ``rows__``) so they never collide with the reviewed layer, and none of
them is matched by the planner's ordinary phrase search: the planner only reaches them through the explicit
patterns in :mod:`copilot.semantic.phrasing` (an aggregate word, a comparison, a count-of-entity phrase).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from schema_catalog.catalog import Catalog, ColumnInfo
from schema_catalog.semantic import Dimension, DimensionDefinition, Metric, MetricDefinition, columns_used
from warehouse.schema import Column, Schema, Table, load_schema

NUMERIC = re.compile(r"^(DOUBLE|INTEGER|BIGINT|FLOAT|DECIMAL.*|SMALLINT|HUGEINT|REAL)$", re.I)
_STRUCT_FIELD = re.compile(r"(\w+)\s+(DOUBLE|INTEGER|BIGINT|FLOAT|VARCHAR|BOOLEAN)", re.I)
AGGREGATES = {"avg": "avg({c})", "sum": "sum({c})", "min": "min({c})", "max": "max({c})",
              "median": "quantile_cont({c}, 0.5)", "p90": "quantile_cont({c}, 0.9)",
              "p95": "quantile_cont({c}, 0.95)", "p99": "quantile_cont({c}, 0.99)"}
_UNIT_WORDS = {"pct", "90d", "12m", "ms", "months", "count", "id"}


@dataclass(frozen=True)
class ColumnRef:
    """A column (or struct field) the planner can aggregate, filter or group by."""

    table: str
    sql: str  # qualified: applications.requested_amount, decisions.features.loan_to_income
    kind: str  # numeric | boolean | category
    phrases: tuple[str, ...]
    struct_field: bool = False

    @property
    def key(self) -> str:
        return self.sql.replace(".", "__")


@dataclass(frozen=True)
class ColumnLayer:
    """Derived metrics/dimensions plus the phrase tables the planner's column patterns use."""

    metrics: dict[str, Metric]
    dimensions: dict[str, Dimension]
    columns: tuple[ColumnRef, ...]
    tables: dict[str, tuple[str, ...]]  # table -> phrases naming its rows ("applications", "loan")
    samples: dict[str, tuple[str, ...]]  # column dimension -> its values


def _phrases_for(name: str, synonyms: tuple[str, ...]) -> tuple[str, ...]:
    words = name.lower().split("_")
    out = {" ".join(words)}
    core = [w for w in words if w not in _UNIT_WORDS]
    if core and core != words:
        out.add(" ".join(core))
    out.update(s.lower() for s in synonyms)
    return tuple(sorted((p for p in out if len(p) >= 3), key=len, reverse=True))


def _time_column(columns: dict[str, ColumnInfo]) -> str | None:
    for c in columns.values():  # never a personal date (date of birth) as the time axis
        if c.type.upper() in ("TIMESTAMP", "DATE", "TIMESTAMPTZ") and not c.pii:
            return c.name
    return None


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _schema_of(catalog: Catalog) -> Schema:
    """The warehouse contract plus any table of ``catalog`` it does not know, so an automatic catalog of another
    database (the external benchmarks) gets a column layer too. The contract stays in: a team may count references
    to a table it cannot read (growth counts distinct applicant ids without seeing applicants)."""
    contract = load_schema()
    tables = dict(contract.tables)
    for name, t in catalog.tables.items():
        if name not in tables:
            tables[name] = Table(name, "", tuple(Column(c.name, c.type, "") for c in t.columns.values()))
    return Schema(version=contract.version, tables=tables)


def build_column_layer(catalog: Catalog, named: dict[str, Dimension]) -> ColumnLayer:
    """Derive the column vocabulary of one team slice (call once per slice; the result is cached by the caller)."""
    schema = _schema_of(catalog)
    covered = {col for d in named.values() for dd in d.definitions if len(dd.columns) == 1 for col in dd.columns}
    metrics: dict[str, Metric] = {}
    dimensions: dict[str, Dimension] = {}
    refs: list[ColumnRef] = []
    samples: dict[str, tuple[str, ...]] = {}
    table_phrases: dict[str, tuple[str, ...]] = {}

    def metric(name: str, label: str, fmt: str, defs: list[tuple[str, str, str | None]]) -> None:
        definitions = tuple(MetricDefinition(t, sql, time, columns_used(sql, schema)) for t, sql, time in defs)
        metrics[name] = Metric(name, label, (), label, fmt, definitions)  # type: ignore[arg-type]

    def dimension(ref: ColumnRef, label: str) -> None:
        dimensions[f"col__{ref.key}"] = Dimension(
            f"col__{ref.key}", label, "category", (), label,
            (DimensionDefinition(ref.table, ref.sql, columns_used(ref.sql, schema)),))

    for table in catalog.tables.values():
        time = _time_column(table.columns)
        for col in table.columns.values():
            if col.pii or col.name.endswith("_id") or col.name == "id":
                continue
            ctype = col.type.upper()
            base_sql = f"{table.name}.{col.name}"
            if ctype.startswith("STRUCT"):
                for fname, ftype in _STRUCT_FIELD.findall(col.type):
                    if NUMERIC.match(ftype):
                        refs.append(ColumnRef(table.name, f"{base_sql}.{fname}", "numeric",
                                              _phrases_for(fname, ()), struct_field=True))
                continue
            kind = ("numeric" if NUMERIC.match(ctype) else "boolean" if ctype == "BOOLEAN"
                    else "category" if ctype == "VARCHAR" and (col.values or col.samples) else "")
            if not kind:
                continue
            ref = ColumnRef(table.name, base_sql, kind, _phrases_for(col.name, col.synonyms))
            refs.append(ref)
            if kind in ("category", "boolean") and col.values and (table.name, col.name) not in covered:
                samples[f"col__{ref.key}"] = tuple(col.values)
        for ref in refs:
            if ref.table != table.name:
                continue
            label = ref.sql.split(".")[-1].replace("_", " ")
            dimension(ref, label.capitalize())
            if ref.kind == "numeric":
                for agg, template in AGGREGATES.items():
                    metric(f"{agg}__{ref.key}", f"{agg} {label}", "number",
                           [(table.name, template.format(c=ref.sql), time)])
        # rows of the table, then distinct references to it from tables that point at it
        pk = next((c.name for c in table.columns.values() if c.name.endswith("_id") and c.references is None), None)
        defs: list[tuple[str, str, str | None]] = [(table.name, "count(*)", time)]
        if pk:
            for other in catalog.tables.values():
                for c in other.columns.values():
                    if c.references == f"{table.name}.{pk}" and other.name != table.name:
                        defs.append((other.name, f"count(DISTINCT {other.name}.{c.name})", _time_column(other.columns)))
        metric(f"rows__{table.name}", f"Number of {table.name.replace('_', ' ')}", "count", defs)
        words = {table.name.replace("_", " "), _singular(table.name).replace("_", " "),
                 *(s.lower() for s in table.synonyms)}
        table_phrases[table.name] = tuple(sorted(words, key=len, reverse=True))
    # tables the team cannot read but whose keys it sees ("how many applicants" for a team without applicants):
    # distinct references to them
    for target in sorted({c.references.split(".")[0] for c in catalog.columns() if c.references}
                         - set(catalog.tables)):
        schema_table = schema.tables.get(target)
        if schema_table is None:
            continue
        defs = [(other.name, f"count(DISTINCT {other.name}.{c.name})", _time_column(other.columns))
                for other in catalog.tables.values() for c in other.columns.values()
                if c.references and c.references.split(".")[0] == target]
        metric(f"rows__{target}", f"Number of {target.replace('_', ' ')}", "count", defs)
        words = {target.replace("_", " "), _singular(target).replace("_", " "),
                 *(s.lower() for s in getattr(schema_table, "synonyms", ()) or ())}
        table_phrases[target] = tuple(sorted(words, key=len, reverse=True))
    return ColumnLayer(metrics, dimensions, tuple(refs), table_phrases, samples)
