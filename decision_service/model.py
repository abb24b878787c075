"""A registered model ready to score (``LoadedModel``) and the PD cut-offs it decides with (``Thresholds``).

Kept apart from the registry (which stores, verifies and deploys versions) because this is the hot path of every
decision: calibrated PD and adverse reason codes. ``from decision_service.registry import LoadedModel, Thresholds``
keeps working (re-exported there).

Reason codes use the exact vectorised TreeSHAP of :mod:`decision_service.treeshap` (built once per booster, on
first use or at start-up via :meth:`LoadedModel.warm_up`), the same implementation the backfill uses; a model it
cannot handle (categorical splits) falls back to LightGBM's ``pred_contrib`` — same values, slower.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from decision_service.model_errors import ArtifactIntegrityError, ThresholdsError
from decision_service.reasons import ReasonMapper, load_catalogue
from decision_service.treeshap import TreeShap, UnsupportedModelError

__all__ = ["LoadedModel", "Thresholds"]

log = logging.getLogger(__name__)

_SMALL_BATCH = 20_000


@contextlib.contextmanager
def _numba_threads(n: int) -> Iterator[None]:
    """Run numba's parallel kernels of the calling thread on ``n`` threads (numba's setting is per thread).

    Why one thread for small batches: with the OpenMP threading layer the pool's idle thread spins after each
    parallel region, measured at ~1.1 ms of CPU per one-row call on 2 threads vs 0.09 ms on one; on the 2-core
    target that spinning steals the core the event loop needs.
    """
    import numba

    before = numba.get_num_threads()
    if before == n:
        yield
        return
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(before)


class _Explainer:
    """The TreeSHAP tables of one booster, built once and shared by every ``LoadedModel`` over that booster.

    Contributions come from the compiled kernel (``TreeShap.batch_contributions``, the backfill's engine, bit for bit
    the per-tree strategy) so real time and backfill compute reason codes by the same code: measured on a 200-tree
    model, one row costs ~0.09 ms of CPU there against ~0.3 ms in the numpy strategy, and the kernel releases the
    GIL, so the event loop keeps serving while a scoring thread explains. Without numba (or if the kernel fails) the
    numpy strategies answer, with the same values up to rounding in the last bits.
    """

    def __init__(self, booster: lgb.Booster) -> None:
        self._booster = booster
        self._lock = threading.Lock()
        self._built = False
        self._shap: TreeShap | None = None
        self._compiled = True

    def get(self) -> TreeShap | None:
        if not self._built:
            with self._lock:
                if not self._built:
                    try:
                        self._shap = TreeShap(self._booster)
                    except UnsupportedModelError:
                        self._shap = None
                    if self._shap is not None:  # compile (or load from numba's disk cache) the kernel now
                        self._kernel_or_none(np.zeros((1, self._shap.num_features)))
                    self._built = True
        return self._shap

    def _kernel_or_none(self, X: np.ndarray) -> np.ndarray | None:
        assert self._shap is not None
        if not self._compiled:
            return None
        try:
            with _numba_threads(1 if X.shape[0] <= _SMALL_BATCH else _all_threads()):
                return self._shap.batch_contributions(X)
        except Exception:  # numba missing or the kernel refused the model: the numpy strategies stay exact
            log.warning("compiled TreeSHAP kernel unavailable; numpy TreeSHAP answers", exc_info=True)
            self._compiled = False
            return None

    def contributions(self, X: np.ndarray) -> np.ndarray | None:
        """(n, F) TreeSHAP values, or None for a model the vectorised TreeSHAP cannot handle."""
        shap = self.get()
        if shap is None:
            return None
        out = self._kernel_or_none(X)
        return out if out is not None else shap.contributions(X)


def _all_threads() -> int:
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


@dataclass(frozen=True)
class Thresholds:
    """Cut-offs on the calibrated PD: PD < approve_below -> approve band; < refer_below -> refer; else decline."""

    approve_below: float
    refer_below: float

    def __post_init__(self) -> None:
        if not (0.0 <= self.approve_below <= self.refer_below <= 1.0):
            raise ThresholdsError(
                f"thresholds need 0 <= approve_below <= refer_below <= 1, got {self.approve_below}, {self.refer_below}"
            )

    @classmethod
    def coerce(cls, value: Thresholds | Mapping[str, float]) -> Thresholds:
        if isinstance(value, Thresholds):
            return value
        return cls(float(value["approve_below"]), float(value["refer_below"]))

    def to_dict(self) -> dict[str, float]:
        return {"approve_below": self.approve_below, "refer_below": self.refer_below}

    def band(self, pd: np.ndarray) -> np.ndarray:
        """'approve'/'refer'/'decline' per PD from the model alone (NaN lands in decline)."""
        pd = np.asarray(pd, dtype=np.float64)
        return np.where(pd < self.approve_below, "approve", np.where(pd < self.refer_below, "refer", "decline"))


class LoadedModel:
    """A verified model version ready to score: calibrated PD and adverse reason codes.

    Scoring speed: LightGBM's predict on a single row costs tens of microseconds with ``num_threads=1`` (thread
    start-up dominates otherwise), so small batches use one thread and large batches all cores. TreeSHAP is the
    expensive part and is only computed for the rows that owe reasons (declines and refers), through the shared
    vectorised implementation (``contributions`` stays LightGBM's ``pred_contrib``, bias column included).
    """

    def __init__(
        self, path: Path, metadata: Mapping[str, Any], booster: lgb.Booster, calibrator: Mapping[str, Any],
        mapper: ReasonMapper, thresholds: Thresholds, explainer: _Explainer | None = None,
    ) -> None:
        self.path = path
        self.metadata = dict(metadata)
        self.lender_id: str = metadata["lender_id"]
        self.version: str = metadata["version"]
        self.model_id: str = metadata["model_id"]
        self.feature_names: tuple[str, ...] = tuple(metadata["feature_names"])
        self.thresholds = thresholds
        self.booster = booster
        self.calibrator = dict(calibrator)
        if self.calibrator.get("method") != "platt":
            raise ArtifactIntegrityError(f"{self.model_id}: unsupported calibrator {self.calibrator.get('method')!r}")
        self._a = float(self.calibrator["a"])
        self._b = float(self.calibrator["b"])
        self.mapper = mapper
        self.catalogue_version = mapper.catalogue.version
        self._explainer = explainer if explainer is not None else _Explainer(booster)

    @classmethod
    def from_dir(cls, path: Path, metadata: Mapping[str, Any]) -> LoadedModel:
        booster = lgb.Booster(model_str=(path / "model.txt").read_text())
        if tuple(booster.feature_name()) != tuple(metadata["feature_names"]):
            raise ArtifactIntegrityError(f"{path}: model features differ from the metadata's feature list")
        calibrator = json.loads((path / "calibrator.json").read_text())
        catalogue = load_catalogue(text=(path / "reason_catalogue.yaml").read_text())
        return cls(path, metadata, booster, calibrator, catalogue.mapper(metadata["feature_names"]),
                   Thresholds.coerce(metadata["thresholds"]))

    def with_thresholds(self, thresholds: Thresholds) -> LoadedModel:
        """Same model (shared booster), other cut-offs: a deployment may recalibrate thresholds."""
        return LoadedModel(self.path, self.metadata, self.booster, self.calibrator, self.mapper, thresholds,
                           self._explainer)

    def warm_up(self) -> None:
        """Build the TreeSHAP tables now (a fraction of a second), so no request pays for them."""
        self._explainer.get()

    def _check(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.shape[1] != len(self.feature_names):
            raise ValueError(f"{self.model_id} expects {len(self.feature_names)} features, got {X.shape[1]}")
        return X

    def _threads(self, n: int) -> int:
        return 1 if n <= _SMALL_BATCH else 0

    def raw_score(self, X: np.ndarray) -> np.ndarray:
        """Uncalibrated log-odds margin of the booster."""
        X = self._check(X)
        return self.booster.predict(X, raw_score=True, num_threads=self._threads(X.shape[0]))

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Platt scaling of the margin: PD = 1 / (1 + exp(-(a * raw + b)))."""
        return 1.0 / (1.0 + np.exp(-(self._a * np.asarray(raw, dtype=np.float64) + self._b)))

    def predict_pd(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probability of default per row of ``X`` (columns in ``feature_names`` order)."""
        return self.calibrate(self.raw_score(X))

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """TreeSHAP values ``(n, F + 1)`` in margin units; the last column is the reference (expected value)."""
        X = self._check(X)
        return np.asarray(self.booster.predict(X, pred_contrib=True, num_threads=self._threads(X.shape[0])))

    def reason_codes(self, X: np.ndarray, k: int = 4) -> list[list[str]]:
        """Up to ``k`` (max 4) adverse reason codes per row, ordered by contribution, deterministic ties."""
        X = self._check(X)
        if X.shape[0] == 0:
            return []
        contrib = self._explainer.contributions(X)
        if contrib is None:
            contrib = self.contributions(X)[:, :-1]
        return self.mapper.map(contrib, X, k)

    def reason_texts(self, codes: list[str]) -> list[str]:
        """Human-readable texts of codes, from the catalogue frozen with this model."""
        return [self.mapper.catalogue.text(c) for c in codes]

    def __repr__(self) -> str:
        return f"LoadedModel({self.model_id}, {self.thresholds})"


