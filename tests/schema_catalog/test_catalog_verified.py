"""Verified queries enter retrieval only after the injected validator accepts them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from schema_catalog.catalog import build_catalog
from schema_catalog.index import team_documents
from schema_catalog.teams import UnknownTeamError
from schema_catalog.verified import (
    VerificationFailedError,
    VerifiedQueryError,
    VerifiedQueryStore,
    replica_validator,
)
from warehouse.db import connect_reader

SQL = "SELECT partners.name, count(*) AS n FROM partners GROUP BY ALL"


class GuardrailsSaidNo(Exception):
    """Stands in for the guardrails' typed rejection (this package must not import guardrails)."""


def _reject(sql: str, team: str) -> None:
    raise GuardrailsSaidNo(f"rejected for {team}")


def test_pair_is_retrievable_only_after_validation(tmp_path: Path) -> None:
    store = VerifiedQueryStore(tmp_path / "vq.duckdb")
    calls: list[tuple[str, str]] = []
    pair = store.submit("growth", "partners by count", SQL, "asha")
    assert pair.status == "candidate" and store.list("growth") == []
    assert not [d for d in team_documents(build_catalog().for_team("growth"), store.list(status=None))
                if d.metadata["kind"] == "verified"]
    verified = store.verify(pair.query_id, "ravi", lambda sql, team: calls.append((sql, team)))
    assert calls == [(SQL, "growth")]
    assert verified.status == "verified" and verified.verified_by == "ravi"
    assert verified.verified_at is not None and verified.verified_at <= dt.datetime.now(dt.UTC).replace(tzinfo=None)
    docs = team_documents(build_catalog().for_team("growth"), store.list())
    assert [d.text for d in docs if d.metadata["kind"] == "verified"] == ["partners by count"]
    # another team's collection never receives it
    assert not [d for d in team_documents(build_catalog().for_team("risk"), store.list())
                if d.metadata["kind"] == "verified"]


def test_rejected_pair_is_kept_with_its_reason_but_never_listed(tmp_path: Path) -> None:
    store = VerifiedQueryStore(tmp_path / "vq.duckdb")
    with pytest.raises(VerificationFailedError) as info:
        store.accept("growth", "bad one", "SELECT * FROM bureau_reports", "asha", _reject)
    assert isinstance(info.value.reason, GuardrailsSaidNo)
    assert store.list("growth") == []
    (rejected,) = store.list("growth", status="rejected")
    assert "GuardrailsSaidNo" in (rejected.last_error or "")


@pytest.mark.parametrize(("team", "question", "sql", "error"), [
    ("growth", "  ", SQL, VerifiedQueryError),
    ("growth", "q", "", VerifiedQueryError),
    ("sales", "q", SQL, UnknownTeamError),
])
def test_bad_submissions(tmp_path: Path, team: str, question: str, sql: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        VerifiedQueryStore(tmp_path / "vq.duckdb").submit(team, question, sql, "asha")


@pytest.mark.parametrize(("team", "sql", "ok"), [
    ("growth", "SELECT count(*) FROM applications", True),
    ("growth", "SELECT count(*) FROM bureau_reports", False),
    ("growth", "SELECT features FROM decisions", False),
    ("partnerships", "SELECT sum(approvals) FROM partner_lender_daily", True),
    ("partnerships", "SELECT count(*) FROM decisions", False),
    ("risk", "SELECT 1; SELECT 2", False),
])
def test_replica_validator_enforces_scope_by_running(small_world, team: str, sql: str, ok: bool) -> None:
    con = connect_reader(small_world.replica)
    try:
        validate = replica_validator(con)
        if ok:
            validate(sql, team)
        else:
            with pytest.raises(Exception):  # noqa: B017 - binder, invalid-input or our own typed error
                validate(sql, team)
    finally:
        con.close()


def test_seed_is_idempotent(tmp_path: Path) -> None:
    store = VerifiedQueryStore(tmp_path / "vq.duckdb")
    first = store.seed(lambda sql, team: None)
    assert first["verified"] >= 9 and first["rejected"] == 0
    assert store.seed(lambda sql, team: None) == {"verified": 0, "rejected": 0, "unchanged": first["verified"]}
