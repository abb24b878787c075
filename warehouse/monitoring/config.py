"""Typed loader of ``monitoring.yaml``: a bad file fails loudly at load time, not as a wrong alert weeks later."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from warehouse.monitoring.settings import get_settings

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


class MonitoringConfigError(ValueError):
    """The monitoring YAML is missing, malformed or inconsistent."""


class VariableSpec(BaseModel):
    """Fixed fine histogram grid of one watched variable."""

    lo: float
    hi: float
    bins: int = Field(gt=1, le=2000)

    @model_validator(mode="after")
    def _ordered(self) -> VariableSpec:
        if not self.hi > self.lo:
            raise ValueError(f"hi ({self.hi}) must be greater than lo ({self.lo})")
        return self

    @property
    def width(self) -> float:
        return (self.hi - self.lo) / self.bins


class AlertRule(BaseModel):
    """Thresholds of one metric; see the comment block in monitoring.yaml for the meaning of ``kind``."""

    metric: str
    kind: Literal["value", "rise", "drop", "ratio"]
    watch: float
    alert: float
    critical: float | None = None

    @model_validator(mode="after")
    def _increasing(self) -> AlertRule:
        levels = [self.watch, self.alert] + ([self.critical] if self.critical is not None else [])
        if levels != sorted(levels) or len(set(levels)) != len(levels):
            raise ValueError(f"thresholds of {self.metric} must increase watch < alert < critical")
        return self


class MonitoringConfig(BaseModel):
    variables: dict[str, VariableSpec]
    coarse_bins: int = Field(default=10, ge=2, le=50)
    epsilon: float = Field(default=1e-4, gt=0, lt=0.01)
    alerts: list[AlertRule]

    @model_validator(mode="after")
    def _names(self) -> MonitoringConfig:
        for name in self.variables:
            if not _IDENT.match(name):
                raise ValueError(f"variable name {name!r} is not a plain identifier")
        metrics = [r.metric for r in self.alerts]
        if len(metrics) != len(set(metrics)):
            raise ValueError("each metric may have only one alert rule")
        return self

    def sql_expr(self, name: str, alias: str = "d") -> str:
        """SQL expression of a watched variable: ``score`` is a column, everything else a features field."""
        return f"{alias}.score" if name == "score" else f"{alias}.features.{name}"


def load_config(path: Path | None = None) -> MonitoringConfig:
    """Parse and validate the monitoring YAML (default: the settings' ``config_path``)."""
    path = Path(path or get_settings().config_path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise MonitoringConfigError(f"monitoring config {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise MonitoringConfigError(f"monitoring config {path} is not valid YAML: {exc}") from exc
    try:
        return MonitoringConfig.model_validate(raw)
    except ValidationError as exc:
        raise MonitoringConfigError(f"monitoring config {path} is invalid: {exc}") from exc


@lru_cache
def default_config() -> MonitoringConfig:
    return load_config()
