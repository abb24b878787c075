"""The conservative rule-based fallback: what a lender answers when its model times out or fails.

Why it exists: a partner needs an answer in under 3 seconds, always. When a lender's model cannot answer in its
budget we still owe the applicant a documented decision, so this module decides from the two inputs that are
(almost) always present and that every credit officer understands: the bureau score and loan-to-income.

Why it is conservative: it has none of the model's information, so it must err on the side of caution. It never
approves a thin file, approves only very safe cases (high score, low loan-to-income) and then only for a reduced
amount, and otherwise refers or declines. Its outcome still passes through the lender's policy (hard rules can only
make it worse; pricing comes from the lender's grid), and every row it decides is flagged ``fallback_used`` by the
caller and carries the ``FALLBACK_DECISION`` reason code plus the fallback's own reasons.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from decision_service.features import amortised_emi
from decision_service.policy import APPROVE, DECLINE, REFER, Policy, PolicyResult
from decision_service.policy.engine import AMOUNT_ROUNDING, DECISIONS

APPROVE_MIN_SCORE = 760.0
"""Only applicants at or above this bureau score can be approved without a model."""
APPROVE_MAX_LTI = 0.5
"""... and only when the loan is at most half a year's income."""
DECLINE_BELOW_SCORE = 650.0
"""Scores below this are declined outright; between the two the case is referred for manual review."""
DECLINE_ABOVE_LTI = 1.0
"""Loans above a year's income are declined without a model."""
AMOUNT_FACTOR = 0.5
"""Approved fallback offers are cut to this share of what the lender's grid would allow."""
THIN_FILE_PD = 0.20
"""PD logged for a thin file: no information, so priced as high risk (it is never approved anyway)."""

FALLBACK_MODEL_ID = "rule-fallback"
"""Logged as ``model_id`` of a decision the fallback made (``fallback_used`` is true as well)."""
FALLBACK_MODEL_VERSION = "fb-2025.1"
"""Version of these rules; bump it whenever a constant above changes."""

FALLBACK_CODES: tuple[str, ...] = (
    "FALLBACK_DECISION",
    "FALLBACK_THIN_FILE",
    "FALLBACK_LOW_BUREAU_SCORE",
    "FALLBACK_HIGH_LOAN_TO_INCOME",
    "FALLBACK_MISSING_DATA",
    "FALLBACK_MANUAL_REVIEW",
)
"""Reason codes of the fallback (mapped to text in the reason catalogue); every fallback row carries the first."""


def fallback_pd(features: Mapping[str, np.ndarray]) -> np.ndarray:
    """A deliberately pessimistic PD from bureau score and loan-to-income only.

    A logistic curve that gives about 2.5% at score 760 / LTI 0.5 and rises steeply below 700 or with leverage;
    thin files and missing data get :data:`THIN_FILE_PD` or worse. It is logged as the decision's score, and picks
    the pricing band of approved fallback offers.
    """
    score = np.asarray(features["bureau_score"], dtype=np.float64)
    lti = np.asarray(features["loan_to_income"], dtype=np.float64)
    z = -3.65 - 0.014 * (score - 760.0) + 1.2 * (lti - 0.5)
    pd = 1.0 / (1.0 + np.exp(-z))
    thin = np.nan_to_num(np.asarray(features["thin_file"], dtype=np.float64), nan=0.0) >= 0.5
    pd = np.where(thin | np.isnan(pd), np.maximum(THIN_FILE_PD, np.nan_to_num(pd, nan=0.0)), pd)
    return np.clip(pd, 0.0, 1.0)


def fallback_rank(features: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The fallback's own band (0 approve, 1 refer, 2 decline) and a hit matrix over :data:`FALLBACK_CODES`."""
    score = np.asarray(features["bureau_score"], dtype=np.float64)
    lti = np.asarray(features["loan_to_income"], dtype=np.float64)
    thin = np.nan_to_num(np.asarray(features["thin_file"], dtype=np.float64), nan=0.0) >= 0.5
    n = score.shape[0]
    missing = (~thin & np.isnan(score)) | np.isnan(lti)
    low_score = ~thin & (score < DECLINE_BELOW_SCORE)
    high_lti = lti > DECLINE_ABOVE_LTI
    safe = ~thin & ~missing & (score >= APPROVE_MIN_SCORE) & (lti <= APPROVE_MAX_LTI)
    rank = np.full(n, REFER, dtype=np.int8)
    rank[safe] = APPROVE
    rank[low_score | high_lti] = DECLINE
    review = (rank == REFER) & ~thin & ~missing
    hits = np.column_stack([np.ones(n, dtype=bool), thin, low_score, high_lti, missing, review])
    return rank, hits


def fallback_decide(features: Mapping[str, np.ndarray], policy: Policy) -> tuple[np.ndarray, PolicyResult]:
    """Decide rows without a model: returns ``(fallback_pd, PolicyResult)``; the caller sets ``fallback_used``.

    The lender's hard rules still apply on top (they can only make it worse), pricing comes from the lender's band
    for the fallback PD, and the offered amount is cut by :data:`AMOUNT_FACTOR` (declined if that falls below the
    lender's minimum offer).
    """
    pd = fallback_pd(features)
    rank, fb_hits = fallback_rank(features)
    # Thresholds are unused when model_rank is given; the fallback's band is the ceiling the policy may lower.
    res = policy.decide(pd, features, _NO_THRESHOLDS, model_rank=rank)
    approved = res.rank == APPROVE
    amount = np.floor(res.offered_amount * AMOUNT_FACTOR / AMOUNT_ROUNDING) * AMOUNT_ROUNDING
    too_small = approved & ~(amount >= policy.spec.min_offer_amount)
    new_rank = np.where(too_small, DECLINE, res.rank).astype(np.int8)
    approved = new_rank == APPROVE
    amount = np.where(approved, amount, np.nan)
    emi = np.where(approved, np.round(amortised_emi(amount, res.offered_apr, res.offered_tenure_months), 2), np.nan)
    rule_hits = res.rule_hits.copy()
    rule_hits[:, -1] |= too_small
    result = dataclasses.replace(
        res,
        decision=DECISIONS[new_rank],
        rank=new_rank,
        offered_amount=amount,
        offered_apr=np.where(approved, res.offered_apr, np.nan),
        offered_tenure_months=np.where(approved, res.offered_tenure_months, np.nan),
        emi=emi,
        rule_codes=(*FALLBACK_CODES, *res.rule_codes),
        rule_hits=np.concatenate([fb_hits, rule_hits], axis=1),
    )
    return pd, result


@dataclasses.dataclass(frozen=True)
class _Thresholds:
    approve_below: float
    refer_below: float


_NO_THRESHOLDS = _Thresholds(approve_below=0.0, refer_below=0.0)
