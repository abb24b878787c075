"""Golden files: ``golden/<rule>/<case>.sql`` validates to ``<case>.expected.sql``; ``*__invalid.sql`` raise.

Header comments set the team (``-- team: growth``, default risk) and, for invalid cases, the error class
(``-- raises: UnknownTableError``, first line). ``-- cost_limit: 10x`` validates with a connection to the small test
world and the team's limit set to ten times the world's largest table, so the EXPLAIN cost check runs too.
Regenerate expectations with ``GUARDRAILS_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

import guardrails.errors as errors
from guardrails import validate
from guardrails.executor import connect_sandbox
from guardrails.row_bound import table_stats
from guardrails.scope import Scope

GOLDEN = Path(__file__).with_name("golden")
CASES = sorted(p for p in GOLDEN.glob("*/*.sql") if not p.name.endswith(".expected.sql"))


def _header(text: str, key: str) -> str | None:
    match = re.search(rf"^--\s*{key}:\s*(\S+)", text, flags=re.MULTILINE)
    return match.group(1) if match else None


def test_every_rule_has_golden_files() -> None:
    rules = {p.parent.name for p in CASES}
    assert rules >= {"single_statement", "select_only", "allowed_tables", "qualify_and_check_columns",
                     "allowed_functions", "limit_rows", "cost_limit", "mask_pii"}
    for rule in rules:
        names = [p.name for p in CASES if p.parent.name == rule]
        assert any("__invalid" in n for n in names), rule


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_golden(path: Path, scopes: dict[str, Scope], request: pytest.FixtureRequest) -> None:
    text = path.read_text()
    scope = scopes[_header(text, "team") or "risk"]
    factor = _header(text, "cost_limit")
    connection = None
    if factor is not None:
        connection = connect_sandbox(request.getfixturevalue("guardrails_world"))
        request.addfinalizer(connection.close)
        limit = int(factor.rstrip("x")) * max(s.rows for s in table_stats(connection).values())
        scope = dataclasses.replace(scope, cost_limit_rows=limit)
    if "__invalid" in path.stem:
        first = text.splitlines()[0]
        assert first.startswith("-- raises:"), f"{path}: first line must name the expected error class"
        with pytest.raises(getattr(errors, _header(text, "raises"))):
            validate(text, scope, connection=connection)
        return
    actual = validate(text, scope, connection=connection).sql.strip() + "\n"
    expected_path = path.with_name(path.stem + ".expected.sql")
    if os.environ.get("GUARDRAILS_UPDATE_GOLDEN") == "1":
        expected_path.write_text(actual)
    assert expected_path.exists(), f"missing {expected_path.name}; run with GUARDRAILS_UPDATE_GOLDEN=1 and review"
    assert actual == expected_path.read_text()
