"""Settings: every field documented in docs/guardrails.md with its real default, and env overrides work."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from guardrails.settings import GuardrailSettings, get_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "guardrails.md"


def _documented() -> dict[str, str]:
    rows = re.findall(r"^\|\s*`(\w+)`\s*\|\s*`([^`]*)`\s*\|", DOC.read_text(), flags=re.MULTILINE)
    return dict(rows)


def test_docs_and_settings_agree() -> None:
    documented = _documented()
    assert set(documented) == set(GuardrailSettings.model_fields)
    defaults = GuardrailSettings()
    for name, shown in documented.items():
        value = getattr(defaults, name)
        value = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        assert str(value).lower() == shown.lower(), name


def test_every_setting_has_a_docstring() -> None:
    source = Path(__file__).resolve().parents[2].joinpath("guardrails", "settings.py").read_text()
    for name in GuardrailSettings.model_fields:
        assert re.search(rf"^    {name}: .*\n    \"\"\"", source, flags=re.MULTILINE), name


def test_environment_overrides(guardrail_env: pytest.MonkeyPatch) -> None:
    guardrail_env.setenv("CREDIT_GUARDRAILS_MAX_ROWS", "500")
    guardrail_env.setenv("CREDIT_GUARDRAILS_TIMEOUT_SECONDS", "2.5")
    get_settings.cache_clear()
    assert get_settings().max_rows == 500
    assert get_settings().timeout_seconds == 2.5
    from guardrails import make_scope, validate

    scope = make_scope("t", {"x": {"a": "INT"}})
    assert validate("SELECT a FROM x", scope).row_limit == 500
