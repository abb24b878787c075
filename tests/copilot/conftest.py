"""Copilot fixtures: a Copilot on the shared small world, its audit log in tmp, no model unless a test asks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot.pipeline import Copilot
from copilot.settings import CopilotSettings, get_settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CopilotSettings]:
    monkeypatch.setenv("CREDIT_COPILOT_AUDIT_PATH", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("CREDIT_COPILOT_LOCAL_ENABLED", "false")
    monkeypatch.delenv("CREDIT_COPILOT_OPENAI_BASE_URL", raising=False)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def copilot(small_world, settings: CopilotSettings) -> Iterator[Copilot]:
    """Semantic planner only, on the small world's replica, without the Chroma index (catalog slice only)."""
    c = Copilot(settings, replica=small_world.replica, use_retrieval=False)
    yield c
    c.close()


@pytest.fixture(scope="session")
def decided_world(backfilled_world):
    """The session's small world with decisions, loans and repayments from the real backfill (read-only replica)."""
    return backfilled_world.replica
