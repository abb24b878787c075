"""External benchmarks: the copilot's planner on other people's databases and questions.

``schema_catalog`` has no public "catalog from an arbitrary DuckDB file" entry point (``Catalog.for_team`` resolves
teams from ``teams.yaml`` and the contract), so this adapter assembles one from its public pieces:
``warehouse.schema.Schema`` read from ``information_schema``, an automatic semantic layer (a row count per table; sum,
average, minimum and maximum per numeric column; a dimension per text/boolean column) parsed by
``schema_catalog.semantic.parse_semantic``, ``build_catalog`` + ``extract_samples`` for sample values, and a
``Catalog`` slice for one ad-hoc team that sees everything. Plans are compiled by the copilot's compiler, validated by
the guardrails (``make_scope``) and run by the guardrails' ``SafeExecutor`` on the database opened read-only; gold
SQL runs on a plain read-only connection. The semantic planner has only that automatic layer to work with, so low
figures are expected and reported as measured.

* DuckDB-NSQL (``duckdb-nsql/dev.json``): SELECT questions only, against the native ``.duckdb`` files.
* Spider-DK (``spider-dk/Spider-DK.json``): the three databases shipped here, copied from SQLite into a temporary
  DuckDB file with Python's ``sqlite3``; gold SQL transpiled by sqlglot (``sqlite``, then ``mysql``); gold queries
  that still cannot run on DuckDB are counted and listed, never scored.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
import yaml
from tqdm import tqdm

from evals.compare import compare_results

SPIDER_DK_DBS = ("new_concert_singer", "new_orchestra", "new_pets_1")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NUMERIC = ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "NUMERIC")


class DatasetMissingError(FileNotFoundError):
    """The dataset folder is not there (datasets are read at run time, never copied into the repository)."""


@dataclass(frozen=True)
class ExternalQuestion:
    db_id: str
    question: str
    gold_sql: str


@dataclass
class ExternalResult:
    db_id: str
    question: str
    backend: str
    status: str
    """correct, wrong, cannot_answer, blocked, error, gold_unrunnable."""
    sql: str | None = None
    gold_sql: str = ""
    detail: str = ""
    ms: float = 0.0


@dataclass
class ExternalSummary:
    dataset: str
    results: dict[str, list[ExternalResult]] = field(default_factory=dict)

    def counts(self, backend: str) -> Counter[str]:
        return Counter(r.status for r in self.results[backend])

    def accuracy(self, backend: str) -> float | None:
        c = self.counts(backend)
        scored = sum(v for k, v in c.items() if k != "gold_unrunnable")
        return round(c["correct"] / scored, 4) if scored else None

    def __str__(self) -> str:
        lines = []
        for b in self.results:
            c = self.counts(b)
            lines.append(f"[{self.dataset} / {b}] execution accuracy {self.accuracy(b)} "
                         f"({c['correct']}/{sum(c.values()) - c['gold_unrunnable']} scored; "
                         f"{c['gold_unrunnable']} gold queries cannot run on DuckDB); " + dict(c).__repr__())
        return "\n".join(lines)


# ---------------------------------------------------------------- catalog from an arbitrary DuckDB file
def _schema_and_semantic(con: duckdb.DuckDBPyConnection) -> tuple[Any, Any]:
    from schema_catalog.semantic import parse_semantic
    from warehouse.schema import Column, Schema, Table

    rows = con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                       "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position").fetchall()
    by_table: dict[str, list[tuple[str, str]]] = {}
    for t, c, ty in rows:
        if _IDENT.match(t) and _IDENT.match(c):
            by_table.setdefault(t, []).append((c, ty))
    tables = {t: Table(t, f"Table {t}.", tuple(Column(c, ty, f"{c.replace('_', ' ')} of {t}") for c, ty in cols))
              for t, cols in by_table.items()}
    schema = Schema(version=0, tables=tables)
    metrics: dict[str, Any] = {}
    dimensions: dict[str, Any] = {}
    for t, cols in by_table.items():
        words = t.replace("_", " ")
        time_col = next((c for c, ty in cols if ty.upper().startswith(("DATE", "TIMESTAMP"))), None)
        base = {"table": t, **({"time": time_col} if time_col else {})}
        metrics[f"{t}_count"] = {"label": f"Number of {words}", "format": "count",
                                 "synonyms": [f"number of {words}", f"how many {words}", f"count of {words}", words],
                                 "description": f"Number of rows of {t}.", "definitions": [{**base, "sql": "count(*)"}]}
        for c, ty in cols:
            cw = c.replace("_", " ")
            if ty.upper().startswith(_NUMERIC) and not c.lower().endswith("id"):
                for fn, label in (("avg", "average"), ("sum", "total"), ("max", "maximum"), ("min", "minimum")):
                    metrics[f"{fn}_{t}_{c}"] = {
                        "label": f"{label.title()} {cw}", "synonyms": [f"{label} {cw}", f"{fn} {cw}"],
                        "description": f"{label} of {t}.{c}", "definitions": [{**base, "sql": f"{fn}({t}.{c})"}]}
            elif ty.upper() in ("VARCHAR", "BOOLEAN"):
                dimensions[f"{t}_{c}"] = {
                    "label": cw.title(), "synonyms": [cw, f"by {cw}", f"per {cw}", f"each {cw}"],
                    "description": f"{cw} of {t}", "definitions": [{"table": t, "sql": f"{t}.{c}"}]}
    return schema, parse_semantic(yaml.safe_dump({"metrics": metrics, "dimensions": dimensions}), schema)


def adhoc_semantics(db: Path) -> tuple[Any, Any]:
    """(TeamSemantics, guardrails Scope) for one team that sees every table of the DuckDB file ``db``."""
    from copilot.semantic.view import TeamSemantics
    from guardrails.scope import make_scope
    from schema_catalog.catalog import Catalog, build_catalog, extract_samples
    from schema_catalog.teams import TeamScope

    con = duckdb.connect(str(db), read_only=True)
    try:
        schema, semantic = _schema_and_semantic(con)
        samples = extract_samples(con, limit=60, max_distinct=200, schema=schema)
    finally:
        con.close()
    full = build_catalog(samples, schema=schema, semantic=semantic)
    cols = {t.name: tuple(t.column_names) for t in schema.tables.values()}
    scope = TeamScope(name="external", description="every table of an external database", pii_policy="denied",
                      tables=cols, pii_columns=frozenset(), cost_limit_rows=2_000_000_000)
    catalog = Catalog(tables=full.tables, metrics=full.metrics, dimensions=full.dimensions, team="external",
                      scope=scope)
    types = {t.name: {c.name: c.type for c in t.columns} for t in schema.tables.values()}
    return TeamSemantics(catalog), make_scope("external", types)


# ---------------------------------------------------------------- datasets
def _is_select(sql: str) -> bool:
    head = sql.strip().lstrip("(").upper()
    return head.startswith(("SELECT", "WITH", "FROM")) and not re.search(r"\b(INSERT|UPDATE|DELETE|COPY)\b", head)


def load_duckdb_nsql(root: Path) -> list[ExternalQuestion]:
    items = json.loads((root / "dev.json").read_text())
    return [ExternalQuestion(i["db_id"], i["question"], i["query"]) for i in items if _is_select(i["query"])]


def load_spider_dk(root: Path) -> list[ExternalQuestion]:
    """Questions whose database ships here (the three ``SPIDER_DK_DBS`` whose SQLite file is present)."""
    items = json.loads((root / "Spider-DK.json").read_text())
    present = {d for d in SPIDER_DK_DBS if (root / "database" / d / f"{d}.sqlite").exists()}
    return [ExternalQuestion(i["db_id"], i["question"], i["query"]) for i in items if i["db_id"] in present]


def _column_type(values: list[Any]) -> str:
    """DuckDB type for a SQLite column from its *values* (SQLite is dynamically typed; Spider declares ages and
    years as text but stores numbers, and its gold SQL compares them with numbers)."""
    present = [v for v in values if v is not None and v != ""]

    def number(v: Any) -> float | None:
        try:
            return float(v)
        except (TypeError, ValueError):
            return None

    if present and all(number(v) is not None for v in present):
        return "BIGINT" if all(float(v).is_integer() and "." not in str(v) for v in present) else "DOUBLE"
    return "VARCHAR"


def sqlite_to_duckdb(sqlite_path: Path, target: Path) -> Path:
    """Copy every table of a SQLite file into a new DuckDB file (no extension needed)."""
    src = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    dst = duckdb.connect(str(target))
    try:
        names = [r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for name in names:
            cur = src.execute(f'SELECT * FROM "{name}"')
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()
            types = [_column_type([r[i] for r in rows]) for i in range(len(cols))]
            dst.execute(f'CREATE TABLE "{name}" (' + ", ".join(f'"{c}" {t}' for c, t in zip(cols, types,
                                                                                          strict=True)) + ")")
            if rows:
                dst.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" * len(cols))})',
                                [[None if v == "" and t != "VARCHAR" else v for v, t in zip(r, types, strict=True)]
                                 for r in rows])
    finally:
        src.close()
        dst.close()
    return target


def _gold(con: duckdb.DuckDBPyConnection, sql: str, dialects: tuple[str, ...]) -> tuple[list[str], list] | str:
    errors = []
    for dialect in dialects:
        try:
            text = sqlglot.transpile(sql, read=dialect, write="duckdb")[0] if dialect != "duckdb" else sql
            cur = con.execute(text)
            return [d[0] for d in cur.description], cur.fetchall()
        except (duckdb.Error, sqlglot.errors.SqlglotError) as err:
            errors.append(f"{dialect}: {str(err).splitlines()[0]}")
    return "; ".join(errors)


# ---------------------------------------------------------------- running
def _ask(question: str, sem: Any, scope: Any, executor: Any, backend: str, filler: Any) -> tuple[str, str | None,
                                                                                             Any, str]:
    """(status, sql, (columns, rows) or None, detail) for one question with one backend."""
    from copilot.errors import CopilotError
    from copilot.llm.base import PlanRequest
    from copilot.semantic.compiler import compile_plan
    from copilot.semantic.planner import plan_question
    from guardrails.errors import GuardrailError
    from guardrails.pipeline import validate

    today = dt.date.today()
    try:
        if backend == "semantic":
            res = plan_question(question, sem, today)
            if res.plan is None or res.confidence < 0.6:
                return "cannot_answer", None, None, "; ".join(res.notes)
            plan = res.plan
        else:
            out = filler.fill_plan(PlanRequest(question=question, team="external",
                                               metrics={k: m.description for k, m in sem.metrics.items()},
                                               dimensions={k: d.description for k, d in sem.dimensions.items()},
                                               today=today.isoformat()))
            if out.cannot_answer or out.plan is None:
                return "cannot_answer", None, None, out.reason or ""
            plan = out.plan
        sql = compile_plan(plan, sem).sql
    except CopilotError as err:
        return "cannot_answer", None, None, f"{err.code}: {err.message}"
    try:
        vq = validate(sql, scope)
    except GuardrailError as err:
        return "blocked", sql, None, str(err)
    try:
        page = executor.run(vq, 0)
    except GuardrailError as err:
        return "error", vq.sql, None, str(err)
    return "answered", vq.sql, (list(page.columns), [list(r) for r in page.rows]), ""


@contextmanager
def _databases(dataset: str, root: Path) -> Iterator[tuple[list[ExternalQuestion], dict[str, Path], tuple[str, ...]]]:
    if dataset == "duckdb-nsql":
        qs = load_duckdb_nsql(root)
        yield qs, {d: root / "databases" / d / f"{d}.duckdb" for d in {q.db_id for q in qs}}, ("duckdb",)
        return
    with tempfile.TemporaryDirectory(prefix="spider_dk_") as tmp:
        qs = load_spider_dk(root)
        dbs = {d: sqlite_to_duckdb(root / "database" / d / f"{d}.sqlite", Path(tmp) / f"{d}.duckdb")
               for d in sorted({q.db_id for q in qs})}
        yield qs, dbs, ("sqlite", "mysql")


def run_external(dataset: str, *, backends: list[str], datasets_dir: Path, out_dir: Path,
                 limit: int | None = None, progress: bool = True) -> ExternalSummary:
    """Run ``dataset`` with each backend and write ``external_<dataset>.json`` / ``.md`` into ``out_dir``."""
    from guardrails.executor import SafeExecutor

    root = datasets_dir / dataset
    if not root.is_dir():
        raise DatasetMissingError(f"{root} is missing (set CREDIT_EVALS_DATASETS_DIR)")
    summary = ExternalSummary(dataset)
    with _databases(dataset, root) as (questions, dbs, dialects):
        questions = questions[:limit] if limit else questions
        filler = None
        if "local" in backends:
            from copilot.backends import local_filler
            from copilot.settings import get_settings

            filler = local_filler(get_settings())
        for backend in backends:
            out: list[ExternalResult] = []
            for db_id in tqdm(sorted({q.db_id for q in questions}), desc=f"{dataset} [{backend}]",
                              disable=not progress):
                sem, scope = adhoc_semantics(dbs[db_id])
                gold_con = duckdb.connect(str(dbs[db_id]), read_only=True)
                executor = SafeExecutor(dbs[db_id])
                try:
                    for q in (q for q in questions if q.db_id == db_id):
                        out.append(_score(q, backend, sem, scope, executor, gold_con, dialects, filler))
                finally:
                    executor.close()
                    gold_con.close()
            summary.results[backend] = out
    _write(summary, out_dir)
    return summary


def _score(q: ExternalQuestion, backend: str, sem: Any, scope: Any, executor: Any,
           gold_con: duckdb.DuckDBPyConnection, dialects: tuple[str, ...], filler: Any) -> ExternalResult:
    gold = _gold(gold_con, q.gold_sql, dialects)
    if isinstance(gold, str):
        return ExternalResult(q.db_id, q.question, backend, "gold_unrunnable", gold_sql=q.gold_sql, detail=gold)
    t0 = time.perf_counter()
    status, sql, result, detail = _ask(q.question, sem, scope, executor, backend, filler)
    ms = (time.perf_counter() - t0) * 1000
    if status == "answered":
        cmp = compare_results(gold[0], gold[1], result[0], result[1],
                              ordered="ORDER BY" in q.gold_sql.upper())
        status, detail = ("correct" if cmp.match else "wrong"), f"{cmp.reason}: {cmp.detail}"
    return ExternalResult(q.db_id, q.question, backend, status, sql, q.gold_sql, detail, round(ms, 2))


def _write(summary: ExternalSummary, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"external_{summary.dataset}"
    data = {b: {"accuracy": summary.accuracy(b), "counts": dict(summary.counts(b)),
                "results": [r.__dict__ for r in rs]} for b, rs in summary.results.items()}
    (out_dir / f"{name}.json").write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    lines = [f"# External benchmark: {summary.dataset}", "", str(summary), ""]
    for b, rs in summary.results.items():
        bad = [r for r in rs if r.status == "gold_unrunnable"]
        if bad:
            lines += [f"Gold queries that cannot run on DuckDB ({b}): {len(bad)}", ""]
            lines += [f"- `{r.db_id}`: `{r.gold_sql}` -- {r.detail[:200]}" for r in bad]
            break
    (out_dir / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
