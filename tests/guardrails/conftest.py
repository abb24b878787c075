"""Fixtures of the guardrails tests: team scopes and real DuckDB replicas to validate and run queries on."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from guardrails.scope import Scope
from guardrails.settings import get_settings
from guardrails.teams import team_scope
from warehouse.db import publish_replica, writer

TEAMS = ("risk", "growth", "partnerships")

# Decisions derived from the world's applications when the world has none yet (the decision backfill fills them in
# the real product). Deterministic: scores and outcomes come from hashes of the ids.
_FILL_DECISIONS = """
INSERT INTO decisions
SELECT
  a.application_id || '-' || pl.lender_id, a.application_id, a.partner_id, pl.lender_id, 'fixture',
  a.received_at + INTERVAL 2 MINUTE,
  CASE WHEN hash(a.application_id || pl.lender_id) % 10 < 5 THEN 'approve'
       WHEN hash(a.application_id || pl.lender_id) % 10 < 7 THEN 'refer' ELSE 'decline' END,
  (hash(a.application_id || pl.lender_id) % 1000) / 1000.0, 'm-' || pl.lender_id, 'v1', 'p1',
  CASE WHEN hash(a.application_id) % 3 = 0 THEN ['R01', 'R07'] ELSE [] END,
  a.requested_amount, 18.5, a.requested_tenure_months, a.requested_amount / 12, false, 'live', 40.0,
  {'bureau_score': b.bureau_score, 'dpd30_count_12m': 0, 'dpd90_count_12m': 0, 'enquiries_90d': 1,
   'utilisation_pct': 30, 'oldest_account_age_months': 40, 'secured_share': 0.1, 'unsecured_accounts': 2,
   'thin_file': 0, 'loan_to_income': 2, 'emi_to_income': 0.2, 'self_employed': 0, 'lti_x_self_employed': 0,
   'employer_tenure_months': 24, 'short_tenure': 0, 'repeat_borrower': 0, 'repayment_consistency': NULL,
   'avg_days_late': NULL, 'restructured': 0, 'requested_amount': a.requested_amount,
   'requested_tenure_months': a.requested_tenure_months, 'monthly_income': a.monthly_income, 'applicant_age': 30}
FROM applications a
JOIN partner_lenders pl ON pl.partner_id = a.partner_id
LEFT JOIN bureau_reports b ON b.application_id = a.application_id
"""


@pytest.fixture(scope="session")
def scopes() -> dict[str, Scope]:
    return {team: team_scope(team) for team in TEAMS}


@pytest.fixture(scope="session")
def guardrails_world(small_world, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """A read-only replica of the small world, with decisions filled in if the world has none. Returns its path."""
    root = tmp_path_factory.mktemp("guardrails_world")
    path, replica = root / "warehouse.duckdb", root / "replica.duckdb"
    shutil.copyfile(small_world.path, path)
    with writer(path) as con:
        if con.execute("SELECT count(*) FROM decisions").fetchone()[0] == 0:
            con.execute(_FILL_DECISIONS)
        publish_replica(con, replica)
    return replica


@pytest.fixture
def tiny_replica(tmp_path: Path) -> Path:
    """A handful of hand-written rows (empty contract tables otherwise), for exact masking and paging checks."""
    path = tmp_path / "tiny.duckdb"
    with writer(path) as con:
        con.execute("INSERT INTO partners VALUES ('P01', 'Alpha', 'app', DATE '2024-01-01', 'prime'),"
                    " ('P02', 'Beta', 'web', DATE '2024-01-01', 'subprime')")
        con.execute("INSERT INTO applicants (applicant_id, full_name, pan, phone, city) VALUES"
                    " ('A1', 'Asha Rao', 'ABCDE1234F', '9876543210', 'Pune'),"
                    " ('A2', 'Ravi Kumar', 'PQRSX9876Z', '9123456780', 'Pune'),"
                    " ('A3', 'Asha Rao', 'ABCDE1234F', NULL, 'Delhi')")
        con.execute("INSERT INTO decisions (decision_id, partner_id, lender_id, decision, score, reason_codes) "
                    "SELECT 'D' || i, CASE WHEN i % 2 = 0 THEN 'P01' ELSE 'P02' END, 'L01', "
                    "CASE WHEN i % 3 = 0 THEN 'decline' ELSE 'approve' END, i / 100.0, ['R01'] "
                    "FROM range(25) t(i)")
    return path


@pytest.fixture
def guardrail_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set CREDIT_GUARDRAILS_* variables through the returned monkeypatch; settings are reloaded around the test."""
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()
