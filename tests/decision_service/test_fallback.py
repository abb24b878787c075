"""The rule-based fallback: conservative, explainable, never approves a thin file."""

from __future__ import annotations

import numpy as np
import pytest

from decision_service.fallback import AMOUNT_FACTOR, fallback_decide, fallback_pd
from decision_service.features import FEATURE_NAMES
from decision_service.policy import PACKAGE_POLICY_DIR, load_policy


def feats(score: float, lti: float, thin: float = 0.0, **extra: float) -> dict[str, np.ndarray]:
    base = {name: np.array([np.nan]) for name in FEATURE_NAMES}
    values = {
        "bureau_score": score, "loan_to_income": lti, "thin_file": thin, "dpd30_count_12m": 0.0,
        "dpd90_count_12m": 0.0, "enquiries_90d": 1.0, "emi_to_income": 0.2, "employer_tenure_months": 36.0,
        "requested_amount": 200_000.0, "requested_tenure_months": 24.0, "monthly_income": 60_000.0, **extra,
    }
    base.update({k: np.array([v], dtype=np.float64) for k, v in values.items()})
    return base


@pytest.mark.parametrize(
    ("lender", "score", "lti", "thin", "decision", "codes"),
    [
        ("L03", 800.0, 0.3, 0.0, "approve", []),
        ("L03", 760.0, 0.5, 0.0, "approve", []),
        ("L03", 759.0, 0.3, 0.0, "refer", ["FALLBACK_MANUAL_REVIEW"]),
        ("L03", 800.0, 0.6, 0.0, "refer", ["FALLBACK_MANUAL_REVIEW"]),
        ("L03", 640.0, 0.3, 0.0, "decline", ["FALLBACK_LOW_BUREAU_SCORE", "LOW_BUREAU_SCORE"]),
        ("L05", 640.0, 0.3, 0.0, "decline", ["FALLBACK_LOW_BUREAU_SCORE"]),
        ("L05", 800.0, 1.2, 0.0, "decline", ["FALLBACK_HIGH_LOAN_TO_INCOME"]),
        # Thin files are never approved by the fallback; the lender's policy may make it a decline.
        ("L03", np.nan, 0.1, 1.0, "refer", ["FALLBACK_THIN_FILE", "THIN_FILE"]),
        ("L01", np.nan, 0.1, 1.0, "decline", ["FALLBACK_THIN_FILE", "THIN_FILE"]),
        # Missing score without the thin-file flag is missing data, not a pass.
        ("L03", np.nan, 0.1, 0.0, "refer", ["FALLBACK_MISSING_DATA"]),
    ],
)
def test_fallback_table(lender: str, score: float, lti: float, thin: float, decision: str, codes: list[str]) -> None:
    pd, res = fallback_decide(feats(score, lti, thin), load_policy(lender, PACKAGE_POLICY_DIR))
    assert res.decision[0] == decision
    assert res.rule_reasons[0] == ["FALLBACK_DECISION", *codes]
    assert 0 <= pd[0] <= 1


def test_fallback_approves_a_reduced_amount_at_the_lenders_price() -> None:
    policy = load_policy("L03", PACKAGE_POLICY_DIR)
    f = feats(800.0, 0.3)
    pd, res = fallback_decide(f, policy)
    model_like = policy.decide(pd, f, thresholds=type("T", (), {"approve_below": 1.0, "refer_below": 1.0})())
    assert res.offered_amount[0] == pytest.approx(np.floor(model_like.offered_amount[0] * AMOUNT_FACTOR / 1000) * 1000)
    assert res.offered_amount[0] < f["requested_amount"][0]
    assert res.offered_apr[0] == model_like.offered_apr[0]
    assert res.emi[0] < model_like.emi[0]


def test_fallback_pd_is_monotone_and_pessimistic_for_thin_files() -> None:
    scores = np.linspace(500, 900, 9)
    pd = fallback_pd({"bureau_score": scores, "loan_to_income": np.full(9, 0.5), "thin_file": np.zeros(9)})
    assert (np.diff(pd) < 0).all()
    ltis = np.linspace(0.1, 2.0, 9)
    pd = fallback_pd({"bureau_score": np.full(9, 760.0), "loan_to_income": ltis, "thin_file": np.zeros(9)})
    assert (np.diff(pd) > 0).all()
    thin = fallback_pd({"bureau_score": np.array([np.nan]), "loan_to_income": np.array([0.1]),
                        "thin_file": np.array([1.0])})
    assert thin[0] >= 0.2
