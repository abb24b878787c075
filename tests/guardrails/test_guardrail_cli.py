"""``python -m guardrails check --team TEAM`` as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_cli(team: str, sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "guardrails", "check", "--team", team],
        input=sql, capture_output=True, text=True, cwd=REPO_ROOT, timeout=60, check=False,
    )


def test_allowed_query_prints_the_sql_that_will_run() -> None:
    result = run_cli("risk", "SELECT applicant_id, upper(pan) AS p FROM applicants")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("LIMIT 10000")
    assert "MD5(GETVARIABLE('guardrails_pii_salt')" in result.stdout


@pytest.mark.parametrize(
    ("team", "sql", "code"),
    [("growth", "SELECT * FROM bureau_reports", "unknown_table"),
     ("partnerships", "SELECT 1 AS a; DROP TABLE decisions", "multiple_statements"),
     ("risk", "SELECT * FROM read_csv('/etc/passwd')", "table_function")],
)
def test_blocked_query_exits_1_with_json(team: str, sql: str, code: str) -> None:
    result = run_cli(team, sql)
    assert result.returncode == 1
    error = json.loads(result.stdout)
    assert error["error"] == code
    assert error["rule"] and error["message"]


def test_unknown_team_exits_2() -> None:
    result = run_cli("marketing", "SELECT 1 AS a")
    assert result.returncode == 2
    assert "unknown team" in result.stderr
