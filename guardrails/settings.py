"""Guardrail settings (environment prefix ``CREDIT_GUARDRAILS_``).

Every field is documented in docs/guardrails.md; a test checks the two agree, so an operator can trust the table.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class GuardrailSettings(BaseSettings):
    """Limits of validation and of the execution sandbox."""

    model_config = SettingsConfigDict(env_prefix="CREDIT_GUARDRAILS_")

    max_rows: int = Field(10_000, ge=1)
    """Row cap of every query: LIMIT is injected when missing and larger limits are clamped to it."""

    page_size: int = Field(10_000, ge=1)
    """Rows per result page returned by the executor."""

    timeout_seconds: float = Field(30.0, gt=0)
    """Wall-clock limit of one query; a timer interrupts DuckDB and the query fails with QueryTimeoutError."""

    memory_limit: str = "2GB"
    """DuckDB memory_limit of sandboxed connections."""

    threads: int = Field(2, ge=1)
    """DuckDB worker threads of sandboxed connections."""

    pii_salt: SecretStr = SecretStr("credit-platform-dev-salt")
    """Secret salt of PII masking hashes. Set a real secret in production; it never appears in the SQL text."""

    pii_salt_variable: str = Field("guardrails_pii_salt", pattern=r"^[a-z_][a-z0-9_]*$")
    """Name of the DuckDB session variable holding the salt; masked SQL reads it with getvariable()."""

    mask_length: int = Field(16, ge=8, le=32)
    """Hex characters kept from the md5 of a masked value (16 = 64 bits: collisions negligible at warehouse scale)."""

    enforce_cost_limit: bool = True
    """Run the EXPLAIN cost check before executing (turn off only for debugging)."""

    cost_bound_by_keys: bool = True
    """Lower DuckDB's EXPLAIN estimate to the provable row bound from table sizes and primary keys where smaller
    (guardrails/row_bound.py); off applies the limit to the raw planner guess."""


@lru_cache
def get_settings() -> GuardrailSettings:
    """Process-wide settings; tests call ``get_settings.cache_clear()`` after changing the environment."""
    return GuardrailSettings()
