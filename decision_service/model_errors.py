"""Typed errors of the model registry and of loaded models (one module, so both can raise them without a cycle)."""

from __future__ import annotations


class RegistryError(Exception):
    """Base class of registry errors."""


class ModelVersionExistsError(RegistryError):
    """A version folder already exists: registered artifacts are immutable."""


class ArtifactIntegrityError(RegistryError):
    """A file of a registered artifact no longer matches the sha256 recorded at registration."""


class UnknownModelError(RegistryError):
    """No such lender/version in the registry."""


class NoChampionError(RegistryError):
    """The lender has no champion model (train and promote one first)."""


class GateNotPassedError(RegistryError):
    """Promotion refused: the candidate has no passing deployment-gate result (use force to override)."""


class NothingToRollBackError(RegistryError):
    """Rollback refused: there is no previous champion."""


class MetadataError(RegistryError):
    """Metadata handed to ``register`` lacks a required key."""


class ThresholdsError(RegistryError, ValueError):
    """Thresholds out of order or outside [0, 1]."""
