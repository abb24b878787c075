"""The deployment gate: a candidate model must score recent traffic like the champion, or its thresholds must move.

The incident this prevents: a retrained model whose PDs came out shifted (a different sample, a different class
balance) goes live with the old approve/refer cut-offs, and the approve rate silently collapses or explodes. The gate
scores the SAME recent applications with champion and candidate, compares the mean PD of each score decile (each
model's own ranking, so a pure re-ordering does not count as a shift), flags any decile whose mean moved by more than
``MAX_DECILE_SHIFT`` (15%) relative to the champion, and recalibrates the candidate's thresholds so it keeps the
champion's approve and refer rates on that traffic (or stated targets). A failed gate refuses promotion unless forced;
a forced promotion still goes live with the recalibrated thresholds.

Rates here are model-band rates (PD against thresholds); the policy's hard rules act identically on both models.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from decision_service.registry import LoadedModel, ModelRegistry, Thresholds
from decision_service.training.model import choose_thresholds

MAX_DECILE_SHIFT = 0.15


class GateError(RuntimeError):
    """The gate cannot run (no champion, no traffic, feature lists differ)."""


@dataclass
class GateResult:
    lender_id: str
    candidate_version: str
    champion_version: str
    passed: bool
    max_shift: float
    flagged_deciles: list[int]
    deciles: list[dict[str, float]]
    champion_thresholds: dict[str, float]
    thresholds: dict[str, float]
    """Recalibrated candidate thresholds (what a promotion of the candidate will use)."""
    champion_rates: dict[str, float]
    candidate_rates_unmigrated: dict[str, float]
    """The candidate's rates with the champion's thresholds: the incident the gate exists to catch."""
    candidate_rates: dict[str, float]
    target_rates: dict[str, float]
    n_rows: int
    traffic: str
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rates(pd: np.ndarray, th: Thresholds) -> dict[str, float]:
    bands = th.band(pd)
    return {k: float(np.mean(bands == k)) for k in ("approve", "refer", "decline")}


def decile_means(pd: np.ndarray) -> np.ndarray:
    order = np.sort(np.asarray(pd, dtype=np.float64))
    return np.array([chunk.mean() for chunk in np.array_split(order, 10)])


def run_gate(
    champion: LoadedModel,
    candidate: LoadedModel,
    X: np.ndarray,
    *,
    target_approve: float | None = None,
    target_refer: float | None = None,
    max_shift: float = MAX_DECILE_SHIFT,
    traffic: str = "",
) -> GateResult:
    """Compare candidate with champion on ``X`` (rows in the shared feature order) and recalibrate thresholds."""
    if tuple(candidate.feature_names) != tuple(champion.feature_names):
        raise GateError("champion and candidate use different feature lists; the gate needs one traffic matrix")
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] < 100:
        raise GateError(f"only {X.shape[0]} rows of recent traffic; the gate needs at least 100")
    pd_champ, pd_cand = champion.predict_pd(X), candidate.predict_pd(X)
    d_champ, d_cand = decile_means(pd_champ), decile_means(pd_cand)
    rel = np.abs(d_cand - d_champ) / np.maximum(d_champ, 1e-6)
    flagged = [i + 1 for i in np.flatnonzero(rel > max_shift)]
    champ_rates = _rates(pd_champ, champion.thresholds)
    approve = champ_rates["approve"] if target_approve is None else target_approve
    refer = champ_rates["refer"] if target_refer is None else target_refer
    approve = float(np.clip(approve, 1e-6, 0.999))
    refer = float(np.clip(refer, 0.0, 0.999 - approve))
    new_th = choose_thresholds(pd_cand, approve, refer)
    return GateResult(
        lender_id=champion.lender_id,
        candidate_version=candidate.version,
        champion_version=champion.version,
        passed=not flagged,
        max_shift=float(rel.max()),
        flagged_deciles=flagged,
        deciles=[
            {"decile": i + 1, "champion_mean_pd": float(a), "candidate_mean_pd": float(b), "relative_change": float(r),
             "flagged": bool(r > max_shift)}
            for i, (a, b, r) in enumerate(zip(d_champ, d_cand, rel, strict=True))
        ],
        champion_thresholds=champion.thresholds.to_dict(),
        thresholds=new_th.to_dict(),
        champion_rates=champ_rates,
        candidate_rates_unmigrated=_rates(pd_cand, champion.thresholds),
        candidate_rates=_rates(pd_cand, new_th),
        target_rates={"approve": approve, "refer": refer},
        n_rows=int(X.shape[0]),
        traffic=traffic,
        created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
    )


def gate_candidate(
    registry: ModelRegistry,
    lender_id: str,
    candidate_version: str,
    X: np.ndarray,
    *,
    promote: bool = True,
    force: bool = False,
    policy_version: str | None = None,
    **kwargs: Any,
) -> tuple[GateResult, dict[str, Any] | None]:
    """Run the gate against the current champion, record the result, and promote if it passed (or ``force``).

    Returns the result and the deployment event (None when not promoted).
    """
    registry.reload()
    champion = registry.champion(lender_id)
    candidate = registry.load(lender_id, candidate_version)
    result = run_gate(champion, candidate, X, **kwargs)
    registry.record_gate(lender_id, candidate_version, result.to_dict())
    event = None
    if promote and (result.passed or force):
        event = registry.promote(lender_id, candidate_version, force=force, thresholds=result.thresholds,
                                 policy_version=policy_version)
    return result, event
