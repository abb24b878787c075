"""The shared vectorised TreeSHAP equals LightGBM's ``pred_contrib`` for every batch size and missing-value rule."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from decision_service.treeshap import CHUNK_ROWS, PER_TREE_MIN_ROWS, TreeShap, UnsupportedModelError


def _booster(zero_as_missing: bool, seed: int = 3) -> tuple[lgb.Booster, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(4000, 6))
    X[:, 2] = rng.integers(0, 4, size=4000)  # many exact zeros: the zero-as-missing rule matters
    X[rng.random(4000) < 0.15, 0] = np.nan
    X[rng.random(4000) < 0.10, 3] = np.nan
    y = (np.nan_to_num(X[:, 0]) + X[:, 1] * X[:, 2] - np.nan_to_num(X[:, 3]) + rng.normal(size=4000) > 0.5)
    params = {"objective": "binary", "num_leaves": 23, "max_depth": 6, "min_child_samples": 20, "verbose": -1,
              "zero_as_missing": zero_as_missing, "seed": seed}
    booster = lgb.train(params, lgb.Dataset(X, y.astype(float)), num_boost_round=40)
    return booster, X


@pytest.mark.parametrize("zero_as_missing", [False, True])
@pytest.mark.parametrize("rows", [1, 3, CHUNK_ROWS + 5, PER_TREE_MIN_ROWS + 10])
def test_equals_pred_contrib(zero_as_missing: bool, rows: int) -> None:
    booster, X = _booster(zero_as_missing)
    x = X[:rows]
    expected = booster.predict(x, pred_contrib=True)[:, :-1]
    np.testing.assert_allclose(TreeShap(booster).contributions(x), expected, atol=1e-12)


def test_single_row_vector_and_width_checked() -> None:
    booster, X = _booster(False)
    shap = TreeShap(booster)
    np.testing.assert_allclose(shap.contributions(X[0]), booster.predict(X[:1], pred_contrib=True)[:, :-1],
                               atol=1e-12)
    assert shap.contributions(X[:0]).shape == (0, 6)
    with pytest.raises(ValueError, match="6 features"):
        shap.contributions(X[:, :5])


def test_categorical_splits_are_refused() -> None:
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 5, size=2000), rng.normal(size=2000)])
    y = (X[:, 0] % 2 == 0).astype(float)
    ds = lgb.Dataset(X, y, categorical_feature=[0])
    booster = lgb.train({"objective": "binary", "verbose": -1, "min_data_per_group": 5}, ds, num_boost_round=5)
    with pytest.raises(UnsupportedModelError, match="categorical"):
        TreeShap(booster)


@pytest.mark.parametrize("zero_as_missing", [False, True])
@pytest.mark.parametrize("rows", [1, 7, 5000])
def test_compiled_batch_kernel_is_bit_equal_to_the_per_tree_strategy(zero_as_missing: bool, rows: int) -> None:
    """The backfill's compiled kernel sums in the per-tree strategy's order, so its values are the same bits (reason
    codes cannot differ even at a rounding boundary), and LightGBM's to float noise."""
    from decision_service.treeshap import _PerTree

    booster, X = _booster(zero_as_missing)
    x = np.concatenate([X] * 2)[:rows]  # 5000 rows: two parallel blocks, repeated split patterns
    shap = TreeShap(booster)
    got = shap.batch_contributions(x)
    assert np.array_equal(got, _PerTree(booster.dump_model()).contributions(x))
    np.testing.assert_allclose(got, booster.predict(x, pred_contrib=True)[:, :-1], atol=1e-12)
    assert shap.batch_contributions(X[:0]).shape == (0, 6)
    with pytest.raises(ValueError, match="6 features"):
        shap.batch_contributions(X[:, :5])
