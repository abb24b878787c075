"""Distribution-shift statistics: definitions checked against scipy and against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy

from warehouse.monitoring.divergence import baseline_groups, divergences, regroup, smoothed

K, EPS = 10, 1e-4


def _hist(values: np.ndarray, bins: int = 100) -> np.ndarray:
    """Fine histogram with bin 0 = missing (NaN), like the SQL of the job."""
    fine = np.where(np.isnan(values), 0, 1 + np.clip(np.nan_to_num(values), 0, bins - 1).astype(int))
    return np.bincount(fine, minlength=bins + 1).astype(float)


def test_same_distribution_has_psi_near_zero_and_shift_raises_it() -> None:
    rng = np.random.default_rng(0)
    base = _hist(rng.normal(50, 10, 50_000))
    same = _hist(rng.normal(50, 10, 5_000))
    shifted = _hist(rng.normal(58, 10, 5_000))
    out = divergences(np.stack([same, shifted]), np.stack([base, base]), K, EPS)
    assert out["psi"][0] < 0.02
    assert out["psi"][1] > 0.25
    assert 0 <= out["js_distance"][0] < out["js_distance"][1] <= 1


def test_definitions_match_scipy() -> None:
    rng = np.random.default_rng(1)
    base, cur = _hist(rng.gamma(2, 10, 20_000)), _hist(rng.gamma(2.5, 10, 3_000))
    groups = baseline_groups(base, K)
    p, q = smoothed(regroup(cur, groups, K), EPS), smoothed(regroup(base, groups, K), EPS)
    out = divergences(cur, base, K, EPS)
    assert out["kl_divergence"] == pytest.approx(entropy(p, q))
    assert out["psi"] == pytest.approx(float(((p - q) * np.log(p / q)).sum()))
    assert out["js_distance"] == pytest.approx(jensenshannon(p, q, base=2))


def test_baseline_groups_are_quantiles_of_the_baseline() -> None:
    rng = np.random.default_rng(2)
    base = _hist(rng.uniform(0, 100, 100_000))
    masses = regroup(base, baseline_groups(base, K), K)
    assert masses[0] == 0  # no missing values
    assert masses[1:] / masses.sum() == pytest.approx(np.full(K, 0.1), abs=0.02)


def test_discrete_mass_point_and_missing_bin() -> None:
    """A value holding most of the mass is one group; a jump in NULLs is seen through the missing group."""
    base = _hist(np.r_[np.zeros(7_000), np.ones(2_000), np.full(1_000, 2.0)])
    groups = baseline_groups(base, K)
    assert len(set(groups[1:4])) == 3  # 0, 1 and 2 fall in different groups
    cur = _hist(np.r_[np.zeros(700), np.ones(200), np.full(100, 2.0), np.full(500, np.nan)])
    assert divergences(cur, base, K, EPS)["psi"] > 1.0


def test_empty_bins_stay_finite() -> None:
    base = np.zeros(21)
    base[1:11] = 100
    cur = np.zeros(21)
    cur[15:] = 50  # all current mass above the baseline's range: it lands in the open top decile
    out = divergences(cur, base, K, EPS)
    assert np.isfinite(out["psi"]) and out["psi"] > 5
    assert 0.8 < out["js_distance"] < 1.0
