"""The policy engine: turns calibrated PDs and features into decisions and priced offers, a whole batch at a time.

The same ``Policy.decide`` serves one real-time request (n = 1) and a backfill batch of a million rows, so it is
written with numpy only — no per-row Python except for building reason lists, which are produced lazily from a
boolean hit matrix (most callers need them only for a few rows, and the backfill turns the matrix into Arrow lists).

Order of operations (the contract with the API and the backfill):
1. the model band from the lender's thresholds (PD < approve_below: approve; < refer_below: refer; else decline);
2. hard rules and the thin-file rule can only make that worse, each firing rule adds its reason code;
3. approved rows are priced from the band their PD falls in: amount = min(requested, band cap) (the cap is the
   smaller of a multiple of monthly income and an absolute amount, rounded down to 1,000), tenure = requested
   clipped to the band's range, APR from the band, EMI by the amortisation formula. An approved offer that would
   fall below the lender's minimum amount is declined with ``OFFER_BELOW_MINIMUM``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np

from decision_service.features import amortised_emi
from decision_service.policy.spec import RESERVED_CODE, PolicySpec

DECISIONS = np.array(["approve", "refer", "decline"], dtype=object)
APPROVE, REFER, DECLINE = 0, 1, 2
_RANK = {"refer": REFER, "decline": DECLINE}
OFFER_BELOW_MINIMUM = RESERVED_CODE
AMOUNT_ROUNDING = 1000.0


class ThresholdsLike(Protocol):
    """Anything with the two PD cut-offs (``registry.Thresholds`` is the real one)."""

    approve_below: float
    refer_below: float


class PolicyInputError(ValueError):
    """The arrays handed to ``Policy.decide`` do not fit together (missing feature, wrong length)."""


@dataclass(frozen=True)
class PolicyResult:
    """Vectorised outcome of a policy; offer columns are NaN where the decision is not ``approve``."""

    decision: np.ndarray  # object array of 'approve' / 'refer' / 'decline'
    rank: np.ndarray  # int8: 0 approve, 1 refer, 2 decline
    model_rank: np.ndarray  # int8: the band the model alone would have given
    band: np.ndarray  # object array: the pricing band of each row's PD
    offered_amount: np.ndarray
    offered_apr: np.ndarray
    offered_tenure_months: np.ndarray  # float64 so "no offer" can be NaN
    emi: np.ndarray
    rule_codes: tuple[str, ...]
    rule_hits: np.ndarray  # bool (n, len(rule_codes)): which rule fired on which row
    policy_version: str = ""

    def __len__(self) -> int:
        return len(self.decision)

    @cached_property
    def rule_reasons(self) -> list[list[str]]:
        """Reason codes of the hard rules that fired, per row, in the order the policy file lists them."""
        codes = self.rule_codes
        out: list[list[str]] = [[] for _ in range(len(self.decision))]
        rows, cols = np.nonzero(self.rule_hits)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            out[r].append(codes[c])
        return out


_OPS = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal}


class Policy:
    """A loaded, validated lender policy. Immutable; reload the file to change it."""

    def __init__(self, spec: PolicySpec) -> None:
        self.spec = spec
        self.lender_id = spec.lender_id
        self.version = spec.policy_version
        self.targets = spec.targets
        self.rule_codes: tuple[str, ...] = (
            spec.thin_file.code,
            *(r.code for r in spec.rules),
            OFFER_BELOW_MINIMUM,
        )
        bands = spec.pricing
        self._edges = np.array([b.pd_max for b in bands[:-1]], dtype=np.float64)
        self._band_names = np.array([b.band for b in bands], dtype=object)
        self._apr = np.array([b.apr for b in bands])
        self._mult = np.array([b.max_income_multiple for b in bands])
        self._cap = np.array([b.max_amount for b in bands])
        self._tmin = np.array([b.tenure_min_months for b in bands], dtype=np.float64)
        self._tmax = np.array([b.tenure_max_months for b in bands], dtype=np.float64)

    def __repr__(self) -> str:
        return f"Policy({self.lender_id}, {self.version})"

    def band_index(self, pd: np.ndarray) -> np.ndarray:
        """Index of the pricing band of each PD (bands tile [0, 1]; PD 1.0 lands in the last band)."""
        return np.searchsorted(self._edges, np.asarray(pd, dtype=np.float64), side="right")

    def decide(
        self,
        pd: np.ndarray,
        features: Mapping[str, np.ndarray],
        thresholds: ThresholdsLike,
        *,
        model_rank: np.ndarray | None = None,
    ) -> PolicyResult:
        """Decide a batch. ``model_rank`` overrides the band from thresholds (the fallback supplies its own)."""
        pd = np.asarray(pd, dtype=np.float64)
        n = pd.shape[0]
        needed = {"thin_file", "requested_amount", "requested_tenure_months", "monthly_income"}
        needed |= {r.feature for r in self.spec.rules}
        missing = sorted(needed - set(features))
        if missing:
            raise PolicyInputError(f"policy {self.version} needs features {missing}")
        for name in needed:
            if np.shape(features[name])[0] != n:
                raise PolicyInputError(f"feature {name} has {np.shape(features[name])[0]} rows, pd has {n}")

        if model_rank is None:
            # NaN PD compares False everywhere and lands in decline: an unscorable row is never approved.
            model_rank = np.where(
                pd < thresholds.approve_below, APPROVE, np.where(pd < thresholds.refer_below, REFER, DECLINE)
            ).astype(np.int8)
        rank = model_rank.astype(np.int8).copy()
        hits = np.zeros((n, len(self.rule_codes)), dtype=bool)

        thin = np.nan_to_num(np.asarray(features["thin_file"], dtype=np.float64), nan=0.0) >= 0.5
        hits[:, 0] = thin
        rank = np.maximum(rank, np.where(thin, _RANK[self.spec.thin_file.action], APPROVE)).astype(np.int8)

        for j, rule in enumerate(self.spec.rules, start=1):
            x = np.asarray(features[rule.feature], dtype=np.float64)
            missing_x = np.isnan(x)
            with np.errstate(invalid="ignore"):
                fired = _OPS[rule.op](x, rule.value) & ~missing_x
            severity = np.where(fired, _RANK[rule.action], APPROVE)
            if rule.on_missing != "pass":
                severity = np.where(missing_x, _RANK[rule.on_missing], severity)
                fired = fired | missing_x
            hits[:, j] = fired
            rank = np.maximum(rank, severity).astype(np.int8)

        band_idx = self.band_index(pd)
        band_idx = np.clip(band_idx, 0, len(self._band_names) - 1)
        income = np.asarray(features["monthly_income"], dtype=np.float64)
        requested = np.asarray(features["requested_amount"], dtype=np.float64)
        req_tenure = np.asarray(features["requested_tenure_months"], dtype=np.float64)
        cap = np.minimum(self._mult[band_idx] * income, self._cap[band_idx])
        cap = np.floor(cap / AMOUNT_ROUNDING) * AMOUNT_ROUNDING
        amount = np.minimum(requested, cap)
        too_small = (rank == APPROVE) & ~(amount >= self.spec.min_offer_amount)
        hits[:, -1] = too_small
        rank = np.where(too_small, DECLINE, rank).astype(np.int8)

        approved = rank == APPROVE
        tenure = np.clip(req_tenure, self._tmin[band_idx], self._tmax[band_idx])
        apr = self._apr[band_idx]
        nan = np.nan
        offered_amount = np.where(approved, amount, nan)
        offered_apr = np.where(approved, apr, nan)
        offered_tenure = np.where(approved, tenure, nan)
        emi = np.where(approved, amortised_emi(amount, apr, tenure), nan)
        return PolicyResult(
            decision=DECISIONS[rank],
            rank=rank,
            model_rank=np.asarray(model_rank, dtype=np.int8),
            band=self._band_names[band_idx],
            offered_amount=offered_amount,
            offered_apr=offered_apr,
            offered_tenure_months=offered_tenure,
            emi=np.round(emi, 2),
            rule_codes=self.rule_codes,
            rule_hits=hits,
            policy_version=self.version,
        )
