"""UI settings (env prefix ``CREDIT_UI_``): where the users file lives, how long dashboards cache, what the app loads.

Tests and the browser test point the whole app at a small world through the environment (warehouse, copilot, catalog
and guardrail settings keep their own prefixes); these are only the knobs that belong to the app itself.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

UI_DIR = Path(__file__).resolve().parent


class UiSettings(BaseSettings):
    """Settings of the Streamlit analyst app."""

    model_config = SettingsConfigDict(env_prefix="CREDIT_UI_")

    users_path: Path = UI_DIR / "users.yaml"
    """YAML file of the app's users: name, salted scrypt password hash and teams (see docs/ui.md)."""

    cache_ttl_s: int = Field(60, ge=0)
    """Seconds the monitoring and decision queries stay cached (``st.cache_data``); the replica changes by snapshot."""

    use_retrieval: bool = True
    """Whether the copilot uses the Chroma index (MiniLM embeddings, ~6 s to load once per process). Off in unit tests
    for speed; the copilot then plans from the catalog's team slice."""

    example_count: int = Field(6, ge=0, le=20)
    """How many example questions the Ask page offers per team."""

    history_limit: int = Field(20, ge=1)
    """Answers kept in a session's chat history per team (older ones drop off; each holds up to a page of rows)."""


@lru_cache
def get_settings() -> UiSettings:
    """Process-wide settings; tests call ``get_settings.cache_clear()`` after changing the environment."""
    return UiSettings()
