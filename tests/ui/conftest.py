"""Fixtures of the UI tests: the shared small world with REAL backfilled decisions and a monitoring run, the app's
environment pointed at it (or at an empty location), and an AppTest factory.

The world is the session's ``small_world`` copied, backfilled by the decision service's batch backfill with the
session's ``trained_registry`` (the same code path as real time), monitored by ``run_monitoring`` and republished.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from copilot.guard import close_executors
from copilot.settings import get_settings as copilot_settings
from guardrails.settings import get_settings as guardrail_settings
from schema_catalog.settings import get_settings as catalog_settings
from ui.settings import get_settings as ui_settings
from warehouse.settings import get_settings as warehouse_settings

APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
PASSWORDS = {"ria": "ria-dev", "gautam": "gautam-dev", "priya": "priya-dev", "asha": "asha-dev"}


@dataclass(frozen=True)
class UiWorld:
    path: Path
    replica: Path


@pytest.fixture(scope="session")
def ui_world(backfilled_world) -> UiWorld:
    """small_world + real backfilled decisions + drift metrics and alerts, published as a read-only replica."""
    return UiWorld(backfilled_world.path, backfilled_world.replica)


def _clear_caches() -> None:
    for get in (warehouse_settings, copilot_settings, guardrail_settings, catalog_settings, ui_settings):
        get.cache_clear()
    st.cache_resource.clear()  # the copilot is built from the settings in force
    st.cache_data.clear()
    close_executors()  # the shared hardened replica connection keeps the guardrail settings it was opened with


def _point_at(replica: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CREDIT_WAREHOUSE_PATH", str(tmp_path / "no-writer.duckdb"))
    monkeypatch.setenv("CREDIT_WAREHOUSE_REPLICA_PATH", str(replica))
    monkeypatch.delenv("CREDIT_COPILOT_REPLICA_PATH", raising=False)
    monkeypatch.delenv("CREDIT_COPILOT_OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("CREDIT_COPILOT_LOCAL_ENABLED", "false")
    monkeypatch.setenv("CREDIT_COPILOT_AUDIT_PATH", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("CREDIT_CATALOG_VERIFIED_PATH", str(tmp_path / "verified.duckdb"))
    monkeypatch.setenv("CREDIT_CATALOG_CHROMA_PATH", str(tmp_path / "no-index"))
    monkeypatch.setenv("CREDIT_UI_USE_RETRIEVAL", "false")
    _clear_caches()
    yield tmp_path
    monkeypatch.undo()
    _clear_caches()


@pytest.fixture
def ui_env(ui_world: UiWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The app's settings pointed at the backfilled world (audit log and verified store in tmp_path)."""
    yield from _point_at(ui_world.replica, tmp_path, monkeypatch)


@pytest.fixture
def empty_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No warehouse at all: the replica path does not exist."""
    yield from _point_at(tmp_path / "missing" / "replica.duckdb", tmp_path, monkeypatch)


@pytest.fixture
def app() -> Callable[..., AppTest]:
    """``app(user)``: a fresh AppTest, logged in through the real form when ``user`` is given."""

    def make(user: str | None = None) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=120).run()
        if user is not None:
            login(at, user, PASSWORDS[user])
        return at

    return make


def login(at: AppTest, user: str, password: str) -> AppTest:
    at.text_input(key="login_user").input(user)
    at.text_input(key="login_password").input(password)
    return at.button(key="FormSubmitter:login-Log in").click().run()
