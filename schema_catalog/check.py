"""The catalog check: every warehouse column is described and every metric and dimension runs on a real warehouse.

Run with ``python -m schema_catalog check [--warehouse PATH]``; the test suite runs it on an empty migrated warehouse
(SQL that binds on empty tables is valid SQL) and on the generated small world.

Two rules keep the check honest and safe on a full-size warehouse:

- It checks what the copilot can actually ask. A metric x dimension pairing whose join path fans out (one-to-many,
  see :mod:`schema_catalog.joins`) is refused by the copilot's planner, so the check *skips* it and reports why,
  instead of executing a join that inflates the metric and can exhaust memory (decisions -> lenders -> alerts).
- Every query runs under a budget (:class:`CheckSettings`): DuckDB's ``memory_limit`` with spilling into a private
  temporary directory of bounded size (never beside the replica), plus a watchdog thread that interrupts the query
  when it runs past ``timeout_s`` or when the process RSS passes ``rss_limit_mb`` (DuckDB does not account every
  allocation to ``memory_limit``, e.g. some aggregate states). A query stopped this way is reported as failed with
  the budget it broke; the check goes on with the next one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, fields
from functools import lru_cache

import duckdb
from pydantic_settings import BaseSettings, SettingsConfigDict
from tqdm import tqdm

from schema_catalog.catalog import Catalog, JoinStep, NoJoinPathError, build_catalog
from schema_catalog.joins import FanOutJoinError, first_fan_out, many_to_one_path
from schema_catalog.teams import load_teams
from warehouse.schema import Schema, load_schema


class CheckSettings(BaseSettings):
    """Budgets of one check query (env prefix ``CREDIT_CATALOG_CHECK_``). Measured on the full default world
    (45 d x 50k applications/day): every pairing the copilot accepts ran within these defaults (729 queries, 134 s,
    peak RSS 1.2 GiB), while the fan-out pairing that used to exhaust memory (p50 latency by alert severity) stops
    at the 2GB memory_limit after 8 s with DuckDB's out-of-memory error."""

    model_config = SettingsConfigDict(env_prefix="CREDIT_CATALOG_CHECK_")

    timeout_s: float = 120.0
    """Wall-clock seconds one query may run before the watchdog interrupts it."""

    memory_limit: str = "2GB"
    """DuckDB ``memory_limit`` while the check runs (the connection's own value is restored afterwards)."""

    max_temp_directory_size: str = "4GB"
    """How much a query may spill to the check's private temporary directory before DuckDB gives up."""

    rss_limit_mb: int = 6144
    """Process resident memory (MiB) at which the watchdog interrupts the running query (0: no RSS guard)."""

    poll_s: float = 0.05
    """How often the watchdog looks at the clock and the RSS."""


@lru_cache
def get_check_settings() -> CheckSettings:
    """Process-wide check settings; tests change the environment then call ``get_check_settings.cache_clear()``."""
    return CheckSettings()


class CatalogCheckError(RuntimeError):
    """The catalog check found problems; ``problems`` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} catalog problem(s):\n- " + "\n- ".join(problems))
        self.problems = problems


class QueryBudgetError(RuntimeError):
    """A check query was interrupted for breaking its budget: ``kind`` is ``"time"`` or ``"memory"``."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"stopped by the check's {kind} budget: {detail}")
        self.kind, self.detail = kind, detail


@dataclass(frozen=True)
class SkippedCombination:
    """A metric x dimension pairing the copilot refuses (so the check does not execute it), and why."""

    metric: str
    dimension: str
    reason: str
    teams: tuple[str, ...]

    def __str__(self) -> str:
        return f"[{', '.join(self.teams)}] {self.metric} by {self.dimension}: {self.reason}"


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    queries_run: int = 0
    combinations_run: int = 0
    combinations_failed: int = 0
    skipped: list[SkippedCombination] = field(default_factory=list)

    def raise_if_failed(self) -> None:
        if self.problems:
            raise CatalogCheckError(self.problems)


def _rss_bytes() -> int | None:
    """Resident set size of this process from /proc (None where there is no /proc: the RSS guard is then off)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class _Watchdog(threading.Thread):
    """Interrupts ``con``'s running query when it passes the time or RSS budget; ``tripped`` says which."""

    def __init__(self, con: duckdb.DuckDBPyConnection, settings: CheckSettings) -> None:
        super().__init__(name="catalog-check-watchdog", daemon=True)
        self.con, self.settings = con, settings
        self.tripped: QueryBudgetError | None = None
        self._done = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        rss_limit = self.settings.rss_limit_mb * 2**20
        while not self._done.wait(self.settings.poll_s):
            elapsed = time.monotonic() - start
            rss = _rss_bytes() if rss_limit else None
            if elapsed > self.settings.timeout_s:
                self.tripped = QueryBudgetError(
                    "time", f"ran longer than {self.settings.timeout_s:g} s (CREDIT_CATALOG_CHECK_TIMEOUT_S)")
            elif rss is not None and rss > rss_limit:
                self.tripped = QueryBudgetError(
                    "memory", f"process RSS reached {rss / 2**20:,.0f} MiB after {elapsed:.1f} s, over "
                              f"{self.settings.rss_limit_mb} MiB (CREDIT_CATALOG_CHECK_RSS_LIMIT_MB)")
            if self.tripped is not None:
                self.con.interrupt()
                return

    def stop(self) -> None:
        self._done.set()
        self.join()


def run_bounded(con: duckdb.DuckDBPyConnection, sql: str, settings: CheckSettings | None = None) -> list[tuple]:
    """Run ``sql`` and fetch its rows under the time and RSS budget of ``settings``.

    Raises :class:`QueryBudgetError` when the watchdog stopped the query, and DuckDB's own errors (including its
    ``OutOfMemoryException`` at ``memory_limit``) unchanged. The connection stays usable either way.
    """
    watchdog = _Watchdog(con, settings or get_check_settings())
    watchdog.start()
    try:
        return con.execute(sql).fetchall()
    except duckdb.InterruptException as err:
        if watchdog.tripped is not None:
            raise watchdog.tripped from err
        raise
    finally:
        watchdog.stop()


@contextmanager
def bounded_connection(con: duckdb.DuckDBPyConnection, settings: CheckSettings | None = None) -> Iterator[None]:
    """Apply the check's DuckDB memory budget to ``con`` (spilling to a private temporary directory, never next to
    the replica) and restore the connection's own settings afterwards. A configuration locked by the guardrails'
    sandbox is kept as it is (it is the stricter one). The old values are restored from their displayed form, so
    a memory_limit comes back up to DuckDB's rounding (1GB -> "953.6 MiB" -> 953.5 MiB)."""
    settings = settings or get_check_settings()
    spill = tempfile.mkdtemp(prefix="catalog-check-spill-")
    wanted = {"memory_limit": settings.memory_limit, "temp_directory": spill,
              "max_temp_directory_size": settings.max_temp_directory_size}
    saved: dict[str, str] = {}
    try:
        for name, value in wanted.items():
            (old,) = con.execute(f"SELECT current_setting('{name}')").fetchone()
            try:
                con.execute(f"SET {name} = '{value}'")
            except duckdb.InvalidInputException as err:
                if "lock" not in str(err).lower():
                    raise
                continue
            saved[name] = str(old)
        yield
    finally:
        for name, old in saved.items():
            # a temp directory in use cannot be switched back: the setting then stays the check's
            with suppress(duckdb.Error):
                con.execute(f"SET {name} = '{old}'")
        shutil.rmtree(spill, ignore_errors=True)


def _run(con: duckdb.DuckDBPyConnection, sql: str, what: str, report: CheckReport, settings: CheckSettings) -> bool:
    """Run one check query; a failure becomes a problem of the report (never an exception). True if it ran."""
    report.queries_run += 1
    try:
        run_bounded(con, sql, settings)
        return True
    except QueryBudgetError as err:
        report.problems.append(f"{what} {err}\n{sql}")
    except duckdb.OutOfMemoryException as err:
        report.problems.append(f"{what} stopped by the check's memory budget: DuckDB memory_limit "
                               f"{settings.memory_limit} (CREDIT_CATALOG_CHECK_MEMORY_LIMIT): "
                               f"{str(err).splitlines()[0]}\n{sql}")
    except duckdb.Error as err:
        report.problems.append(f"{what} does not run: {err.__class__.__name__}: {str(err).splitlines()[0]}\n{sql}")
    return False


def check_descriptions(schema: Schema) -> list[str]:
    """Every table and column of the contract (internal ones too) must say what it is."""
    problems = []
    for t in schema.tables.values():
        if not t.description:
            problems.append(f"table {t.name} has no description")
        problems += [f"column {t.name}.{c.name} has no description" for c in t.columns if not c.description]
    return problems


class _PlannerCatalog(Catalog):
    """A team slice whose join paths follow the copilot planner's policy: a cheapest path that fans out is refused
    (:class:`FanOutJoinError`), so :meth:`Catalog.example_query` picks the definitions the copilot would use."""

    def join_path(self, start: str, goal: str) -> list[JoinStep]:
        path = super().join_path(start, goal)
        step = first_fan_out(self, path)
        if step is not None:
            raise FanOutJoinError(start, goal, step, path)
        return path


def planner_view(sliced: Catalog) -> Catalog:
    """``sliced`` with the copilot's join policy (see :class:`_PlannerCatalog`)."""
    return _PlannerCatalog(**{f.name: getattr(sliced, f.name) for f in fields(sliced)})


def fan_out_reason(sliced: Catalog, metric: str, dimension: str) -> str | None:
    """Why the copilot refuses ``metric`` by ``dimension`` for a fan-out, or None if no definition pair fans out."""
    reasons = []
    for md in sliced.metrics[metric].definitions:
        for dd in sliced.dimensions[dimension].definitions:
            if dd.table == "*":
                continue
            try:
                many_to_one_path(sliced, md.table, dd.table)
            except FanOutJoinError as err:
                reasons.append(f"one-to-many join refused by the copilot: {err}")
            except NoJoinPathError:
                continue
    return "; ".join(dict.fromkeys(reasons)) or None


def check_catalog(con: duckdb.DuckDBPyConnection, catalog: Catalog | None = None, schema: Schema | None = None,
                  settings: CheckSettings | None = None, progress: bool = False) -> CheckReport:
    """Check descriptions, contract vs database columns, every definition, and every metric x dimension pairing the
    copilot accepts (fan-out pairings are skipped with their reason), each query under the budget of ``settings``."""
    schema = schema or load_schema()
    catalog = catalog or build_catalog(schema=schema)
    settings = settings or get_check_settings()
    report = CheckReport(problems=check_descriptions(schema))
    existing: dict[str, set[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
    ).fetchall():
        existing.setdefault(table, set()).add(column)
    for t in schema.tables.values():
        missing = set(t.column_names) - existing.get(t.name, set())
        if missing:
            report.problems.append(f"warehouse lacks {t.name}.{sorted(missing)} (run migrations)")
    slices = {team: catalog.for_team(team) for team in sorted(load_teams())}
    total = sum(len(s.metrics) * len(s.dimensions) for s in slices.values())
    with bounded_connection(con, settings), tqdm(total=total, desc="catalog check", unit="pair",
                                                 disable=not progress) as bar:
        for m in catalog.metrics.values():
            if not m.description:
                report.problems.append(f"metric {m.name} has no description")
            for d in m.definitions:
                time_col = f", min({d.time_column})" if d.time_column else ""
                _run(con, f"SELECT {d.sql}{time_col} FROM {d.table}", f"metric {m.name} on {d.table}", report,
                     settings)
        for dim in catalog.dimensions.values():
            for dd in dim.definitions:
                if dd.table != "*":
                    _run(con, f"SELECT {dd.sql} FROM {dd.table} LIMIT 5", f"dimension {dim.name} on {dd.table}",
                         report, settings)
        seen: set[str] = set()
        skipped: dict[tuple[str, str, str], list[str]] = {}
        for team, sliced in slices.items():
            planned = planner_view(sliced)
            for metric in sliced.metrics:
                for dim in sliced.dimensions:
                    bar.update()
                    try:
                        sql = planned.example_query(metric, [dim])
                    except NoJoinPathError:
                        reason = fan_out_reason(sliced, metric, dim)
                        if reason:  # the copilot refuses it: say so, run nothing
                            skipped.setdefault((metric, dim, reason), []).append(team)
                        continue  # otherwise not combinable for this team: the planner will say so, nothing to run
                    if sql not in seen:
                        seen.add(sql)
                        report.combinations_run += 1
                        if not _run(con, sql + "\nLIMIT 5", f"[{team}] {metric} by {dim}", report, settings):
                            report.combinations_failed += 1
    report.skipped = [SkippedCombination(m, d, r, tuple(teams)) for (m, d, r), teams in skipped.items()]
    return report
