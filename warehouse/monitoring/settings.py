"""Monitoring settings (env prefix ``CREDIT_MONITORING_``): baseline window, sample-size guards, config, webhook.

The sample-size guards exist because PSI has a noise floor of roughly ``bins * (1/n + 1/m)``: a 200-row day against
a 30-day baseline already reads ~0.05 with no shift at all, so tiny segments would raise alerts on noise.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from warehouse.settings import REPO_ROOT

PACKAGE_DIR = Path(__file__).resolve().parent


class MonitoringSettings(BaseSettings):
    """Knobs of the daily monitoring job, the alerting and the diagnostics."""

    model_config = SettingsConfigDict(env_prefix="CREDIT_MONITORING_")

    config_path: Path = PACKAGE_DIR / "monitoring.yaml"
    """Variables, bin grids and alert thresholds (documented YAML)."""

    baseline_days: int = 30
    """Length of the trailing baseline window (the days strictly before the metric day)."""

    min_rows_day: int = 300
    """A segment-day with fewer decisions gets rates but no distribution metrics and no alerts."""

    min_baseline_days: int = 7
    """No distribution metrics (and no baseline-based alerts) until the warehouse has this many days of history."""

    min_rows_baseline: int = 1_000
    """A segment whose own baseline is smaller is compared with the all-partner baseline of the same lender."""

    webhook_url: str | None = None
    """Optional URL that receives new alerts and new resolutions as JSON POSTs ``{"event": "raised" | "resolved",
    "alerts": [...]}``; failures are logged, not fatal."""

    webhook_timeout_s: float = 5.0
    """Timeout of one webhook POST."""

    artifacts_dir: Path = REPO_ROOT / "artifacts" / "diagnostics"
    """Where ``diagnose`` writes its JSON and HTML reports by default."""


@lru_cache
def get_settings() -> MonitoringSettings:
    """Process-wide settings; tests call ``get_settings.cache_clear()`` after changing the environment."""
    return MonitoringSettings()
