"""Evals fixtures: the shared small world, backfilled with decisions by the real backfill (the gold set needs them).

The world, the trained registry and the backfill are the same code and parameters the decision-service tests use
(``small_world`` and ``trained_registry`` from tests/conftest.py), so the gold SQL's names (Paisabazaar, QuickRupee
Instant Loans, ...) exist here exactly as in the default world. Built once per session (about 90 s on 2 cores).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot.settings import get_settings as copilot_settings


@pytest.fixture(scope="session")
def backfilled_replica(backfilled_world) -> Path:
    """Read-only replica of the small world with backfilled decisions, loans and repayments (tests/conftest.py)."""
    return backfilled_world.replica


@pytest.fixture
def quiet_copilot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Copilot settings for tests: no local model, no remote endpoint, audit log in tmp."""
    monkeypatch.setenv("CREDIT_COPILOT_LOCAL_ENABLED", "false")
    monkeypatch.setenv("CREDIT_COPILOT_AUDIT_PATH", str(tmp_path / "audit.jsonl"))
    monkeypatch.delenv("CREDIT_COPILOT_OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("CREDIT_COPILOT_TODAY", raising=False)
    copilot_settings.cache_clear()
    yield
    copilot_settings.cache_clear()
