"""The execution sandbox: hardened read-only connection, real timeout, cost limit and stable pages."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from guardrails import validate
from guardrails.errors import CostLimitError, QueryTimeoutError
from guardrails.executor import SafeExecutor, connect_sandbox
from guardrails.scope import Scope
from guardrails.settings import get_settings

HEAVY = "SELECT count(*) AS n FROM decisions a JOIN decisions b ON a.partner_id = b.partner_id"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("enable_external_access", "false"), ("lock_configuration", "true"), ("threads", "2"),
     ("autoload_known_extensions", "false")],
)
def test_connection_is_hardened(tiny_replica: Path, setting: str, expected: str) -> None:
    con = connect_sandbox(tiny_replica)
    try:
        assert str(con.execute(f"SELECT current_setting('{setting}')").fetchone()[0]).lower() == expected
        with pytest.raises(duckdb.Error):
            con.execute(f"SET {setting} = {expected}")
        with pytest.raises(duckdb.Error):
            con.execute("CREATE TABLE x AS SELECT 1")  # read-only database
    finally:
        con.close()


def test_setup_can_create_temp_views_before_locking(tiny_replica: Path, scopes: dict[str, Scope]) -> None:
    """DuckDB allows CREATE TEMP VIEW on a read-only database: team views can be set up before the lock."""
    con = connect_sandbox(tiny_replica, setup=["CREATE TEMP VIEW team_partners AS SELECT partner_id FROM partners"])
    try:
        assert con.execute("SELECT count(*) FROM team_partners").fetchone() == (2,)
    finally:
        con.close()


@pytest.mark.parametrize(("page_size", "limit", "expected_sizes"), [(10, None, [10, 10, 5]), (10, 15, [10, 5]),
                                                                    (25, None, [25]), (7, 7, [7])])
def test_pages_are_stable_and_complete(
    tiny_replica: Path, scopes: dict[str, Scope], guardrail_env: pytest.MonkeyPatch,
    page_size: int, limit: int | None, expected_sizes: list[int],
) -> None:
    guardrail_env.setenv("CREDIT_GUARDRAILS_PAGE_SIZE", str(page_size))
    get_settings.cache_clear()
    sql = "SELECT decision_id, decision FROM decisions ORDER BY decision" + (f" LIMIT {limit}" if limit else "")
    validated = validate(sql, scopes["risk"])
    with SafeExecutor(tiny_replica) as executor:
        pages = [executor.run(validated, page=i) for i in range(len(expected_sizes) + 1)]
        again = [executor.run(validated, page=i) for i in range(len(expected_sizes))]
    assert [len(p.rows) for p in pages[:-1]] == expected_sizes
    assert [p.has_more for p in pages[:-1]] == [True] * (len(expected_sizes) - 1) + [False]
    assert pages[-1].rows == []
    assert [p.rows for p in again] == [p.rows for p in pages[:-1]]
    rows = [r for p in pages for r in p.rows]
    assert len(set(rows)) == len(rows)  # no row on two pages
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)  # the query's own ORDER BY is kept
    assert pages[0].columns == ("decision_id", "decision")


def test_timeout_interrupts_the_query(
    guardrails_world: Path, scopes: dict[str, Scope], guardrail_env: pytest.MonkeyPatch
) -> None:
    guardrail_env.setenv("CREDIT_GUARDRAILS_TIMEOUT_SECONDS", "0.5")
    guardrail_env.setenv("CREDIT_GUARDRAILS_ENFORCE_COST_LIMIT", "false")
    get_settings.cache_clear()
    with SafeExecutor(guardrails_world) as executor:
        started = time.perf_counter()
        with pytest.raises(QueryTimeoutError) as info:
            executor.run(validate(HEAVY, scopes["risk"]))
        assert time.perf_counter() - started < 5
        assert info.value.to_dict()["error"] == "timeout"
        # the connection is still usable after the interrupt
        assert executor.run(validate("SELECT count(*) AS n FROM partners", scopes["risk"])).rows[0][0] > 0


def test_cost_limit_from_explain(guardrails_world: Path, scopes: dict[str, Scope]) -> None:
    risk = scopes["risk"]
    tight = Scope(name="tight", tables=risk.tables, cost_limit_rows=1_000_000)
    with SafeExecutor(guardrails_world) as executor:
        estimate = executor.check_cost(validate(HEAVY, risk))
        assert estimate > 1_000_000
        with pytest.raises(CostLimitError) as info:
            executor.run(validate(HEAVY, tight))
        assert "1,000,000" in str(info.value)
        with pytest.raises(CostLimitError):
            validate(HEAVY, tight, connection=executor.con)
        assert executor.check_cost(validate("SELECT count(*) AS n FROM decisions", tight)) <= 1_000_000


def test_only_validated_queries_run(tiny_replica: Path) -> None:
    with SafeExecutor(tiny_replica) as executor, pytest.raises(TypeError):
        executor.run("SELECT 1")  # type: ignore[arg-type]
