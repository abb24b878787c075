"""The policy engine: model band first, hard rules only make it worse, pricing and EMI from the lender's grid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from decision_service.features import FEATURE_NAMES
from decision_service.policy import (
    PACKAGE_POLICY_DIR,
    PolicyInputError,
    PolicyNotFoundError,
    PolicyValidationError,
    amortised_emi,
    load_policies,
    load_policy,
    load_policy_file,
)

INVALID_DIR = PACKAGE_POLICY_DIR / "__invalid"


@dataclass(frozen=True)
class T:
    approve_below: float = 0.05
    refer_below: float = 0.12


CLEAN = {
    "bureau_score": 780.0,
    "dpd30_count_12m": 0.0,
    "dpd90_count_12m": 0.0,
    "enquiries_90d": 1.0,
    "thin_file": 0.0,
    "loan_to_income": 0.3,
    "emi_to_income": 0.2,
    "employer_tenure_months": 36.0,
    "requested_amount": 200_000.0,
    "requested_tenure_months": 24.0,
    "monthly_income": 60_000.0,
}


def feats(n: int = 1, **overrides: float) -> dict[str, np.ndarray]:
    """A clean applicant's features (n copies), with overrides; features no policy reads are NaN."""
    out = {name: np.full(n, np.nan) for name in FEATURE_NAMES}
    for k, v in {**CLEAN, **overrides}.items():
        out[k] = np.full(n, v, dtype=np.float64)
    return out


def test_all_five_lenders_load_with_distinct_versions() -> None:
    policies = load_policies(PACKAGE_POLICY_DIR)
    assert sorted(policies) == ["L01", "L02", "L03", "L04", "L05"]
    assert len({p.version for p in policies.values()}) == 5
    # Different appetites: the minimum bureau score differs and only L01 declines thin files.
    mins = {lid: next(r.value for r in p.spec.rules if r.code == "LOW_BUREAU_SCORE") for lid, p in policies.items()}
    assert mins["L01"] > mins["L03"] > mins["L05"]
    assert [lid for lid, p in policies.items() if p.spec.thin_file.action == "decline"] == ["L01"]


def test_default_policy_dir_comes_from_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from decision_service.settings import get_settings

    (tmp_path / "L03.yaml").write_text((PACKAGE_POLICY_DIR / "L03.yaml").read_text())
    monkeypatch.setenv("CREDIT_DECISION_POLICY_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert load_policy("L03").version == "L03-2025.1"
        with pytest.raises(PolicyNotFoundError, match="no policy for lender 'L01'"):
            load_policy("L01")
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("pd", "expected"),
    [(0.0, "approve"), (0.0499, "approve"), (0.05, "refer"), (0.1199, "refer"), (0.12, "decline"), (1.0, "decline"),
     (float("nan"), "decline")],
)
def test_model_band_from_thresholds(pd: float, expected: str) -> None:
    res = load_policy("L03", PACKAGE_POLICY_DIR).decide(np.array([pd]), feats(), T())
    assert res.decision[0] == expected
    assert res.rule_reasons == [[]]


@pytest.mark.parametrize(
    ("lender", "overrides", "decision", "codes"),
    [
        ("L01", {"bureau_score": 699.0}, "decline", ["LOW_BUREAU_SCORE"]),
        ("L01", {"bureau_score": 700.0}, "approve", []),
        ("L05", {"bureau_score": 620.0}, "approve", []),
        ("L01", {"thin_file": 1.0, "bureau_score": np.nan}, "decline", ["THIN_FILE"]),
        ("L02", {"thin_file": 1.0, "bureau_score": np.nan}, "refer", ["THIN_FILE"]),
        ("L03", {"loan_to_income": 1.6}, "decline", ["HIGH_LOAN_TO_INCOME"]),
        ("L05", {"loan_to_income": 1.6}, "approve", []),
        ("L03", {"emi_to_income": 0.61}, "decline", ["HIGH_EMI_BURDEN"]),
        ("L01", {"dpd90_count_12m": 1.0}, "decline", ["DPD90_RECENT"]),
        ("L04", {"dpd90_count_12m": 1.0}, "refer", ["DPD90_RECENT"]),
        ("L04", {"dpd90_count_12m": 2.0}, "decline", ["DPD90_REPEATED", "DPD90_RECENT"]),
        ("L02", {"enquiries_90d": 9.0}, "refer", ["ENQUIRY_VELOCITY"]),
        ("L03", {"enquiries_90d": 11.0}, "decline", ["ENQUIRY_VELOCITY"]),
        ("L01", {"employer_tenure_months": 3.0}, "refer", ["EMPLOYMENT_UNDER_6M"]),
        ("L01", {"dpd30_count_12m": 3.0, "enquiries_90d": 7.0}, "decline", ["DPD30_RECENT", "ENQUIRY_VELOCITY"]),
        # A missing rule feature passes by default (on_missing: pass): thin-file handling is explicit elsewhere.
        ("L03", {"emi_to_income": np.nan}, "approve", []),
    ],
)
def test_hard_rules(lender: str, overrides: dict[str, float], decision: str, codes: list[str]) -> None:
    res = load_policy(lender, PACKAGE_POLICY_DIR).decide(np.array([0.01]), feats(**overrides), T())
    assert res.decision[0] == decision
    assert sorted(res.rule_reasons[0]) == sorted(codes)
    if decision != "approve":
        assert np.isnan(res.offered_amount[0]) and np.isnan(res.emi[0]) and np.isnan(res.offered_apr[0])


@pytest.mark.parametrize("pd", [0.08, 0.5])
def test_rules_never_improve_the_model_band(pd: float) -> None:
    """A clean applicant in the refer/decline band stays there; a rule refer cannot lift a model decline."""
    policy = load_policy("L04", PACKAGE_POLICY_DIR)
    base = policy.decide(np.array([pd]), feats(), T())
    worse = policy.decide(np.array([pd]), feats(dpd90_count_12m=1.0), T())
    assert base.decision[0] == ("refer" if pd < 0.12 else "decline")
    assert worse.rank[0] >= base.rank[0]


@pytest.mark.parametrize(
    ("lender", "pd", "overrides", "band", "amount", "apr", "tenure"),
    [
        # L03 band A: cap = min(15 x 60k, 1.5M) = 900k -> requested 200k granted in full.
        ("L03", 0.01, {}, "A", 200_000.0, 14.0, 24.0),
        # L03 band B: requested 1.2M capped at 12 x 60k = 720k.
        ("L03", 0.04, {"requested_amount": 1_200_000.0}, "B", 720_000.0, 16.5, 24.0),
        # L05 band A: absolute cap 500k beats 10 x 90k; tenure 48 clipped to 36.
        ("L05", 0.02, {"requested_amount": 2_000_000.0, "monthly_income": 90_000.0, "requested_tenure_months": 48.0},
         "A", 500_000.0, 19.0, 36.0),
        # Cap rounds down to the thousand: 15 x 33,333 = 499,995 -> 499,000.
        ("L03", 0.01, {"requested_amount": 800_000.0, "monthly_income": 33_333.0}, "A", 499_000.0, 14.0, 24.0),
        # L01 tenure below the band minimum is raised to it.
        ("L01", 0.01, {"requested_tenure_months": 6.0}, "A", 200_000.0, 10.5, 12.0),
    ],
)
def test_pricing_grid(lender: str, pd: float, overrides: dict[str, float], band: str, amount: float, apr: float,
                      tenure: float) -> None:
    res = load_policy(lender, PACKAGE_POLICY_DIR).decide(np.array([pd]), feats(**overrides), T())
    assert res.decision[0] == "approve"
    assert res.band[0] == band
    assert res.offered_amount[0] == amount
    assert res.offered_apr[0] == apr
    assert res.offered_tenure_months[0] == tenure
    r = apr / 1200
    expected_emi = amount * r * (1 + r) ** tenure / ((1 + r) ** tenure - 1)
    assert res.emi[0] == pytest.approx(expected_emi, abs=0.01)


@pytest.mark.parametrize(
    ("principal", "apr", "tenure", "emi"),
    [(100_000, 12.0, 12, 8884.88), (500_000, 10.5, 60, 10746.95), (120_000, 0.0, 12, 10_000.0)],
)
def test_amortised_emi_hand_computed(principal: float, apr: float, tenure: int, emi: float) -> None:
    assert amortised_emi(np.array([principal]), np.array([apr]), np.array([tenure]))[0] == pytest.approx(emi, abs=0.01)


def test_offer_below_minimum_is_declined() -> None:
    # L01's minimum offer is 50k; band D caps at 8 x income: 5k income -> 40k cap -> below minimum.
    res = load_policy("L01", PACKAGE_POLICY_DIR).decide(np.array([0.08]), feats(monthly_income=5_000.0), T(0.1, 0.2))
    assert res.decision[0] == "decline"
    assert res.rule_reasons[0] == ["OFFER_BELOW_MINIMUM"]


def test_vectorised_equals_row_by_row() -> None:
    rng = np.random.default_rng(7)
    n = 400
    f = feats(n)
    f["bureau_score"] = rng.uniform(550, 850, n)
    f["thin_file"] = (rng.random(n) < 0.1).astype(float)
    f["bureau_score"][f["thin_file"] == 1] = np.nan
    f["loan_to_income"] = rng.uniform(0.05, 2.5, n)
    f["emi_to_income"] = rng.uniform(0.05, 0.9, n)
    f["dpd90_count_12m"] = rng.integers(0, 3, n).astype(float)
    f["enquiries_90d"] = rng.integers(0, 14, n).astype(float)
    f["requested_amount"] = rng.uniform(20_000, 1_500_000, n)
    f["monthly_income"] = rng.uniform(15_000, 200_000, n)
    pd = rng.uniform(0, 0.3, n)
    policy = load_policy("L04", PACKAGE_POLICY_DIR)
    batch = policy.decide(pd, f, T())
    assert set(batch.decision) == {"approve", "refer", "decline"}
    for i in range(0, n, 7):
        one = policy.decide(pd[i : i + 1], {k: v[i : i + 1] for k, v in f.items()}, T())
        assert one.decision[0] == batch.decision[i]
        assert one.rule_reasons[0] == batch.rule_reasons[i]
        np.testing.assert_equal(one.offered_amount[0], batch.offered_amount[i])
        np.testing.assert_equal(one.emi[0], batch.emi[i])
    # Hard rules only ever make it worse.
    assert (batch.rank >= batch.model_rank).all()


def test_on_missing_is_explicit(tmp_path: Path) -> None:
    spec = yaml.safe_load((PACKAGE_POLICY_DIR / "L03.yaml").read_text())
    spec["rules"][2]["on_missing"] = "refer"  # HIGH_EMI_BURDEN: unknown EMI burden -> manual review
    path = tmp_path / "L03.yaml"
    path.write_text(yaml.safe_dump(spec))
    res = load_policy_file(path).decide(np.array([0.01]), feats(emi_to_income=np.nan), T())
    assert res.decision[0] == "refer"
    assert res.rule_reasons[0] == ["HIGH_EMI_BURDEN"]


def test_decide_rejects_missing_feature() -> None:
    f = feats()
    del f["enquiries_90d"]
    with pytest.raises(PolicyInputError, match="enquiries_90d"):
        load_policy("L01", PACKAGE_POLICY_DIR).decide(np.array([0.01]), f, T())


def test_file_name_must_match_lender(tmp_path: Path) -> None:
    path = tmp_path / "L09.yaml"
    path.write_text((PACKAGE_POLICY_DIR / "L02.yaml").read_text())
    with pytest.raises(PolicyValidationError, match=r"lender_id: file L09.yaml declares lender_id L02"):
        load_policy_file(path)


INVALID_CASES = [
    ("overlapping_bands", "overlapping pricing bands: A [0.0, 0.03) and B [0.02, 0.07)"),
    ("gapped_bands", "gap between pricing bands: A ends at 0.03 but B starts at 0.04"),
    ("unknown_feature", "rules.1.feature: unknown feature name 'loan_to_incomee'; known features: bureau_score,"),
    ("bad_apr_range", "apr_bounds: bad APR range: min 28.0 must be below max 14.0"),
    ("apr_outside_bounds", "band D APR 30.0 outside the lender's APR range [14.0, 28.0]"),
    ("apr_falls_with_risk", "APR must not fall as risk rises: band C APR 16.0 < band B APR 17.5"),
    ("bands_do_not_reach_one", "pricing bands must end at pd 1; band D ends at 0.5"),
    ("bands_do_not_start_at_zero", "pricing bands must start at pd 0; band A starts at 0.01"),
    ("duplicate_rule_code", "duplicate rule codes: DPD90_REPEATED"),
    ("unknown_top_level_field", "rule: Extra inputs are not permitted"),
    ("thin_file_approve", "thin_file.action: Input should be 'refer' or 'decline'"),
    ("targets_exceed_one", "targets: approve_rate + refer_rate must be below 1 (got 0.8 + 0.3)"),
    ("tenure_inverted", "pricing.0: band A: tenure_min_months 72 exceeds tenure_max_months 60"),
    ("missing_policy_version", "policy_version: Field required"),
    ("bad_operator", "rules.0.op: Input should be 'lt', 'le', 'gt' or 'ge'"),
    ("not_yaml", "not valid YAML"),
]


@pytest.mark.parametrize(("name", "message"), INVALID_CASES)
def test_golden_invalid_policies(name: str, message: str) -> None:
    with pytest.raises(PolicyValidationError) as info:
        load_policy_file(INVALID_DIR / f"{name}.yaml")
    assert str(info.value).startswith(f"invalid policy file {name}.yaml: ")
    assert message in str(info.value)


def test_every_golden_invalid_file_has_a_case() -> None:
    assert sorted(p.stem for p in INVALID_DIR.glob("*.yaml")) == sorted(n for n, _ in INVALID_CASES)
