"""Every decision-service setting is documented for operators in docs/decision_api.md (mirrors the copilot's test).

Named test_decision_settings_docs.py, not test_settings_docs.py: the tests folders have no __init__.py, so two test
files with one basename (tests/copilot/test_settings_docs.py) break collection of the whole suite.

Checked against the rows of the settings table, not any mention in the text, so a setting named only in passing
elsewhere in the document still fails until it has its row; rows for settings that no longer exist fail too.
"""

import re
from pathlib import Path

import pytest

from decision_service.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "decision_api.md"
ROW = re.compile(r"^\| `(CREDIT_DECISION_[A-Z0-9_]+)` \|", re.MULTILINE)


def _table_rows() -> list[str]:
    return ROW.findall(DOCS.read_text())


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    assert f"CREDIT_DECISION_{name.upper()}" in _table_rows(), f"add a row for `CREDIT_DECISION_{name.upper()}`"


def test_no_row_for_a_setting_that_does_not_exist() -> None:
    rows = _table_rows()
    fields = {f"CREDIT_DECISION_{name.upper()}" for name in Settings.model_fields}
    assert sorted(set(rows) - fields) == []
    assert len(rows) == len(set(rows)), "a setting has two rows"
