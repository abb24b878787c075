"""Warehouse settings: where the DuckDB files live.

Every path can be overridden through the environment (prefix ``CREDIT_WAREHOUSE_``), so tests, CI and a newcomer's
machine can point the whole product at another file without touching code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class WarehouseSettings(BaseSettings):
    """Locations of the warehouse and its read-only replica."""

    model_config = SettingsConfigDict(env_prefix="CREDIT_WAREHOUSE_")

    path: Path = REPO_ROOT / "data" / "warehouse.duckdb"
    """The writable warehouse file. Exactly one process writes it (the generator, the backfill, or the loader)."""

    replica_path: Path = REPO_ROOT / "data" / "replica.duckdb"
    """Read-only snapshot published by the writer; the copilot, the UI and analysts read this one."""

    memory_limit: str = "4GB"
    """DuckDB memory limit for warehouse connections."""


@lru_cache
def get_settings() -> WarehouseSettings:
    """Return the process-wide settings; tests call ``get_settings.cache_clear()`` after changing the environment."""
    return WarehouseSettings()
