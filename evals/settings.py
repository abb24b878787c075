"""Evaluation settings (env prefix ``CREDIT_EVALS_``): where reports go, where external datasets live, gate limits.

Defaults write only under ``artifacts/evals`` and read the shared datasets at ``../shared/datasets`` relative to the
repository root, so a run never touches ``data/`` (the copilot's audit log is redirected into the output folder).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class EvalSettings(BaseSettings):
    """All evaluation knobs; read once per process through :func:`get_settings`."""

    model_config = SettingsConfigDict(env_prefix="CREDIT_EVALS_")

    out_dir: Path = REPO_ROOT / "artifacts" / "evals"
    """Where scoreboards (Markdown, JSON), HTML reports and per-question results are written."""

    datasets_dir: Path = REPO_ROOT.parent / "shared" / "datasets"
    """Public text-to-SQL benchmarks (read-only): ``duckdb-nsql/`` and ``spider-dk/``. Missing -> external runs skip."""

    baseline_path: Path = REPO_ROOT / "evals" / "baseline.json"
    """Recorded gate baselines, one per world fingerprint (written by ``python -m evals baseline``)."""

    gate_size: int = Field(40, ge=5, le=258)
    """Answerable questions in the CI gate subset (dev and test alike), plus every fifth unanswerable one."""

    gate_tolerance: float = Field(0.05, ge=0.0, le=1.0)
    """The gate fails when execution accuracy falls more than this below the baseline (absolute, 0..1)."""



@lru_cache
def get_settings() -> EvalSettings:
    """Process-wide settings; tests change the environment and call ``get_settings.cache_clear()``."""
    return EvalSettings()
