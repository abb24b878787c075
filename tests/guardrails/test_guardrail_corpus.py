"""The adversarial corpus is refused to the last case; the legitimate analyst set passes and runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

import guardrails.errors as errors
from guardrails import validate
from guardrails.errors import GuardrailError
from guardrails.executor import SafeExecutor, connect_sandbox
from guardrails.scope import Scope
from tests.guardrails.corpus.attacks import ATTACKS, ENGINE_ONLY
from tests.guardrails.legit_queries import LEGIT


def test_corpus_sizes() -> None:
    assert len(ATTACKS) >= 300
    assert len(LEGIT) >= 150
    assert {team for team, _ in LEGIT} == {"risk", "growth", "partnerships"}


@pytest.mark.parametrize(("team", "sql", "expected"), ATTACKS, ids=[f"attack{i}" for i in range(len(ATTACKS))])
def test_attack_is_blocked(scopes: dict[str, Scope], team: str, sql: str, expected: str) -> None:
    with pytest.raises(getattr(errors, expected)) as info:
        validate(sql, scopes[team])
    payload = info.value.to_dict()
    assert payload["error"] and payload["rule"] and payload["message"]


@pytest.mark.parametrize(("team", "sql"), LEGIT, ids=[f"legit{i}" for i in range(len(LEGIT))])
def test_legit_query_passes(scopes: dict[str, Scope], team: str, sql: str) -> None:
    validated = validate(sql, scopes[team])
    assert validated.row_limit <= 10_000
    assert validated.tables <= set(scopes[team].tables)
    assert validated.masked_columns == ()  # none of the legitimate queries outputs personal data


@pytest.fixture(scope="module")
def world_executor(guardrails_world: Path) -> Iterator[SafeExecutor]:
    with SafeExecutor(guardrails_world) as executor:
        yield executor


def test_every_legit_query_runs_on_the_world(scopes: dict[str, Scope], world_executor: SafeExecutor) -> None:
    """The rewritten SQL (qualified, limited) is valid DuckDB and within every team's cost limit."""
    failures = []
    for team, sql in LEGIT:
        try:
            world_executor.run(validate(sql, scopes[team]))
        except GuardrailError as err:
            failures.append((team, sql, str(err)))
    assert failures == []


@pytest.fixture(scope="module")
def hardened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    from warehouse.db import writer

    path = tmp_path_factory.mktemp("engine") / "w.duckdb"
    with writer(path) as con:
        con.execute("INSERT INTO partners VALUES ('P01', 'Alpha', 'app', DATE '2024-01-01', 'prime')")
    con = connect_sandbox(path)
    yield con
    con.close()


@pytest.mark.parametrize("sql", ENGINE_ONLY)
def test_engine_refuses_what_a_first_keyword_check_would_allow(
    hardened: duckdb.DuckDBPyConnection, scopes: dict[str, Scope], sql: str
) -> None:
    """Both layers hold on their own: the rules refuse it, and the hardened connection refuses it run directly."""
    assert sql.lstrip().upper().startswith(("SELECT", "WITH"))
    with pytest.raises(GuardrailError):
        validate(sql, scopes["risk"])
    with pytest.raises(duckdb.Error):
        hardened.execute(sql).fetchall()
    assert hardened.execute("SELECT count(*) FROM partners").fetchone() == (1,)
    assert not Path("/tmp/guardrails_engine_test.csv").exists()
    assert not Path("/tmp/guardrails_engine_dump").exists()
