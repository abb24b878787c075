"""Sandboxed execution of validated queries (datasette is the model: every layer holds on its own).

1. Only :class:`~guardrails.pipeline.ValidatedQuery` objects run (the allowlist rules already passed).
2. The replica is opened read-only; external access (files, URLs, extensions) is disabled; memory and threads are
   limited; then the configuration is locked so no query can undo it.
3. A timer interrupts DuckDB after ``timeout_seconds`` (DuckDB has no statement timeout): a typed
   :class:`~guardrails.errors.QueryTimeoutError`, and the connection stays usable.
4. Results come in pages of ``page_size`` rows with a total ordering (the query's own ORDER BY plus every output
   column as tie-breakers), so page N is the same rows on every call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from guardrails.cost_limit import CostEstimate, check_estimate, estimate_cost
from guardrails.errors import ExecutionError, QueryTimeoutError
from guardrails.pipeline import ValidatedQuery
from guardrails.row_bound import TableStats, table_stats
from guardrails.settings import GuardrailSettings, get_settings


@dataclass(frozen=True)
class ResultPage:
    """One page of a result."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    page: int
    has_more: bool
    elapsed_ms: float


def harden(con: duckdb.DuckDBPyConnection, settings: GuardrailSettings, setup: Iterable[str] = ()) -> None:
    """Apply the sandbox settings, run trusted ``setup`` statements, then lock the configuration."""
    con.execute("SET enable_external_access = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute(f"SET memory_limit = '{settings.memory_limit}'")
    con.execute(f"SET threads = {int(settings.threads)}")
    con.execute(f"SET VARIABLE {settings.pii_salt_variable} = ?", [settings.pii_salt.get_secret_value()])
    for statement in setup:
        con.execute(statement)
    con.execute("SET lock_configuration = true")


def connect_sandbox(
    path: Path | str, settings: GuardrailSettings | None = None, setup: Iterable[str] = ()
) -> duckdb.DuckDBPyConnection:
    """Open ``path`` read-only and hardened (see :func:`harden`)."""
    settings = settings or get_settings()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"warehouse replica {path} does not exist")
    con = duckdb.connect(str(path), read_only=True)
    try:
        harden(con, settings, setup)
    except Exception:
        con.close()
        raise
    return con


def _paged(validated: ValidatedQuery, page: int, page_size: int) -> exp.Expr | None:
    """The validated query restricted to one page, with a total order; None when the page lies past the limit."""
    query = validated.expression.copy()
    first = page * page_size
    remaining = validated.row_limit - first
    if remaining <= 0:
        return None
    width = len(query.selects)
    order = query.args.get("order")
    keys = list(order.expressions) if order is not None else []
    keys += [exp.Ordered(this=exp.Literal.number(i)) for i in range(1, width + 1)]
    query.set("order", exp.Order(expressions=keys))
    query.set("limit", exp.Limit(expression=exp.Literal.number(min(page_size + 1, remaining))))
    query.set("offset", exp.Offset(expression=exp.Literal.number(validated.row_offset + first)))
    return query


class SafeExecutor:
    """Runs validated queries on one hardened read-only connection (one query at a time)."""

    def __init__(
        self,
        path: Path | str,
        settings: GuardrailSettings | None = None,
        setup: Iterable[str] = (),
    ) -> None:
        self.settings = settings or get_settings()
        self.con = connect_sandbox(path, self.settings, setup)
        self._lock = threading.Lock()
        self._stats: dict[str, TableStats] | None = None
        """Table sizes and keys for the cost bound, read once: the replica is read-only and setup ran already."""

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> SafeExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def estimate(self, validated: ValidatedQuery) -> CostEstimate:
        """Cost estimate of the query: EXPLAIN, lowered to the provable row bound (unless ``cost_bound_by_keys``
        is off)."""
        with self._lock:
            use_bound = self.settings.cost_bound_by_keys
            if use_bound and self._stats is None:
                self._stats = table_stats(self.con)
            return estimate_cost(self.con, validated.expression, use_bound=use_bound, stats=self._stats)

    def check_cost(self, validated: ValidatedQuery) -> int:
        """Estimated rows of the query (:meth:`estimate`); raises :class:`CostLimitError` above the team's limit."""
        estimate = self.estimate(validated)
        check_estimate(estimate, validated.cost_limit_rows, validated.team)
        return estimate.rows

    def run(self, validated: ValidatedQuery, page: int = 0) -> ResultPage:
        """Run one page of ``validated``; raises QueryTimeoutError, CostLimitError or ExecutionError."""
        if not isinstance(validated, ValidatedQuery):
            raise TypeError("SafeExecutor.run only accepts ValidatedQuery objects from guardrails.validate()")
        if page < 0:
            raise ValueError("page must be >= 0")
        if self.settings.enforce_cost_limit:
            self.check_cost(validated)
        page_size = self.settings.page_size
        query = _paged(validated, page, page_size)
        if query is None:
            return ResultPage(validated.output_columns, [], page, False, 0.0)
        sql = query.sql(dialect="duckdb", comments=False)
        timed_out = threading.Event()

        def interrupt() -> None:
            timed_out.set()
            self.con.interrupt()

        with self._lock:
            timer = threading.Timer(self.settings.timeout_seconds, interrupt)
            started = time.perf_counter()
            timer.start()
            try:
                cursor = self.con.execute(sql)
                rows = cursor.fetchall()
                columns = tuple(d[0] for d in cursor.description)
            except duckdb.InterruptException as err:
                raise QueryTimeoutError(
                    f"The query ran longer than {self.settings.timeout_seconds:g} s and was stopped",
                    hint="Filter to a shorter date range or aggregate more.",
                ) from err
            except duckdb.Error as err:
                if timed_out.is_set():
                    raise QueryTimeoutError(
                        f"The query ran longer than {self.settings.timeout_seconds:g} s and was stopped"
                    ) from err
                raise ExecutionError(f"DuckDB failed the query: {err}", hint="Fix the query and try again.") from err
            finally:
                timer.cancel()
            elapsed = (time.perf_counter() - started) * 1000
        has_more = len(rows) > page_size
        return ResultPage(columns, rows[:page_size], page, has_more, elapsed)
