"""PII masking by lineage: every output derived from a PII column is hashed; counts stay clear."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from guardrails import validate
from guardrails.errors import GuardrailError
from guardrails.executor import SafeExecutor
from guardrails.scope import Scope

CASES = [
    ("SELECT pan FROM applicants", {"pan"}),
    ("SELECT pan AS tax_id FROM applicants", {"tax_id"}),
    ("SELECT upper(pan) AS p FROM applicants", {"p"}),
    ("SELECT substr(phone, 1, 5) AS prefix, count(*) AS n FROM applicants GROUP BY 1", {"prefix"}),
    ("SELECT concat(full_name, ' / ', city) AS who FROM applicants", {"who"}),
    ("SELECT CASE WHEN pan LIKE 'A%' THEN 'a' ELSE 'b' END AS bucket FROM applicants", {"bucket"}),
    ("SELECT city || email AS x FROM applicants", {"x"}),
    ("SELECT year(date_of_birth) AS birth_year, count(*) AS n FROM applicants GROUP BY 1", {"birth_year"}),
    ("SELECT pincode, count(*) AS n FROM applicants GROUP BY pincode", {"pincode"}),
    ("SELECT max(phone) AS m FROM applicants", {"m"}),
    ("SELECT min(pan) AS first_pan, city FROM applicants GROUP BY city", {"first_pan"}),
    ("SELECT p FROM (SELECT pan AS p FROM applicants) t", {"p"}),
    ("WITH x AS (SELECT email AS e, city FROM applicants) SELECT e, city FROM x", {"e"}),
    ("SELECT city FROM applicants UNION ALL SELECT pan FROM applicants", {"city"}),
    ("SELECT a.applicant_id, l.loan_id, a.full_name FROM loans l JOIN applicants a ON a.applicant_id = "
     "l.applicant_id", {"full_name"}),
    ("SELECT (SELECT max(pan) FROM applicants) AS leaked", {"leaked"}),
    ("SELECT x FROM applicants, unnest([pan, phone]) AS t(x)", {"x"}),
    ("SELECT list(pan) AS pans FROM applicants", {"pans"}),
    ("SELECT * FROM applicants", {"full_name", "pan", "phone", "email", "date_of_birth", "pincode"}),
    ("SELECT a.* FROM applicants a", {"full_name", "pan", "phone", "email", "date_of_birth", "pincode"}),
    # Counting reveals no value: it stays clear.
    ("SELECT count(DISTINCT pan) AS n FROM applicants", set()),
    ("SELECT city, count(DISTINCT phone) AS phones FROM applicants GROUP BY city", set()),
    ("SELECT count(*) FILTER (WHERE email IS NULL) AS missing FROM applicants", set()),
    ("SELECT city, count(*) AS n FROM applicants WHERE pan IS NOT NULL GROUP BY city", set()),
    ("SELECT applicant_id, city, gender, state FROM applicants", set()),
    ("SELECT count(DISTINCT p) AS n FROM (SELECT pan AS p FROM applicants) t", set()),
]


@pytest.mark.parametrize(("sql", "masked"), CASES)
def test_masked_outputs_follow_lineage(scopes: dict[str, Scope], sql: str, masked: set[str]) -> None:
    validated = validate(sql, scopes["risk"])
    assert set(validated.masked_columns) == masked
    for name in masked:
        assert "getvariable('guardrails_pii_salt')" in validated.sql.lower()
        assert name in validated.output_columns


@pytest.mark.parametrize("team", ["growth", "partnerships"])
@pytest.mark.parametrize("sql", [c[0] for c in CASES[:6]])
def test_denied_teams_are_refused_not_masked(scopes: dict[str, Scope], team: str, sql: str) -> None:
    with pytest.raises(GuardrailError) as info:
        validate(sql, scopes[team])
    assert info.value.to_dict()["error"] in {"unknown_table", "unknown_column", "pii_access"}


def test_masked_values_are_stable_hashes_on_real_data(scopes: dict[str, Scope], tiny_replica: Path) -> None:
    with SafeExecutor(tiny_replica) as executor:
        page = executor.run(validate("SELECT applicant_id, pan, phone FROM applicants ORDER BY applicant_id",
                                     scopes["risk"]))
        counts = executor.run(validate("SELECT count(DISTINCT pan) AS n FROM applicants", scopes["risk"]))
    rows = {r[0]: r for r in page.rows}
    assert all(re.fullmatch(r"[0-9a-f]{16}", rows[a][1]) for a in rows)
    assert rows["A1"][1] == rows["A3"][1]  # same PAN -> same hash: joins and counts still work
    assert rows["A1"][1] != rows["A2"][1]
    assert rows["A3"][2] is None  # NULL stays NULL
    assert "ABCDE1234F" not in str(page.rows) and "9876543210" not in str(page.rows)
    assert counts.rows == [(2,)]


def test_salt_changes_the_hash(scopes: dict[str, Scope], tiny_replica: Path, guardrail_env: pytest.MonkeyPatch) -> None:
    from guardrails.settings import get_settings

    sql = "SELECT pan FROM applicants WHERE applicant_id = 'A1'"
    with SafeExecutor(tiny_replica) as executor:
        first = executor.run(validate(sql, scopes["risk"])).rows
    guardrail_env.setenv("CREDIT_GUARDRAILS_PII_SALT", "another-secret")
    get_settings.cache_clear()
    with SafeExecutor(tiny_replica) as executor:
        second = executor.run(validate(sql, scopes["risk"])).rows
    assert first != second
    assert "another-secret" not in validate(sql, scopes["risk"]).sql
