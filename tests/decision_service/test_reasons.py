"""Reason codes: at most four, ordered by contribution, deterministic, and invariant across releases.

Invariance: ``golden/`` holds a tiny committed LightGBM model (trained once from a fixed seed), 40 fixed inputs and the
codes they produced. Any change to the feature order, the catalogue mapping, the SHAP call or the ordering rules makes
this test fail. Regenerate deliberately (and bump the catalogue version) with ``REGEN_REASON_GOLDEN=1``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from decision_service.features import FEATURE_NAMES
from decision_service.reasons import MAX_REASONS, ReasonCatalogueError, load_catalogue, parse_catalogue
from decision_service.registry import ModelArtifact, ModelRegistry, Thresholds
from decision_service.training import TrainParams, fit_model
from decision_service.training.synthetic import synthetic_training_data

GOLDEN = Path(__file__).parent / "golden"
WINDOW = {"start": "synthetic", "end": "synthetic"}


def _golden_model(tmp_path: Path):
    if os.environ.get("REGEN_REASON_GOLDEN") == "1":
        X, y, _ = synthetic_training_data(4000, seed=42)
        fm = fit_model(X, y, FEATURE_NAMES, TrainParams(num_trees=25, num_leaves=7, seed=42))
        GOLDEN.mkdir(exist_ok=True)
        (GOLDEN / "model.txt").write_text(fm.model_text())
        (GOLDEN / "calibrator.json").write_text(json.dumps(fm.calibrator, sort_keys=True))
        Xg, _, _ = synthetic_training_data(40, seed=7)
        (GOLDEN / "inputs.json").write_text(json.dumps(np.where(np.isnan(Xg), None, Xg).tolist()))
    reg = ModelRegistry(tmp_path)
    cal = json.loads((GOLDEN / "calibrator.json").read_text())
    art = ModelArtifact((GOLDEN / "model.txt").read_text(), cal, load_catalogue_text())
    meta = {"lender_id": "LG", "feature_names": list(FEATURE_NAMES), "training_window": WINDOW, "metrics": {},
            "thresholds": {"approve_below": 0.1, "refer_below": 0.2}, "shap_reference": {}}
    version = reg.register(art, meta)
    X = np.array(json.loads((GOLDEN / "inputs.json").read_text()), dtype=np.float64)
    return reg.load("LG", version), X


def load_catalogue_text() -> str:
    from decision_service.reasons import CATALOGUE_PATH

    return CATALOGUE_PATH.read_text()


def test_golden_reason_codes_are_invariant(tmp_path: Path) -> None:
    model, X = _golden_model(tmp_path)
    codes = model.reason_codes(X)
    golden_file = GOLDEN / "reason_codes.json"
    if os.environ.get("REGEN_REASON_GOLDEN") == "1":
        golden_file.write_text(json.dumps({"catalogue_version": model.catalogue_version, "codes": codes}, indent=1))
    golden = json.loads(golden_file.read_text())
    assert golden["catalogue_version"] == model.catalogue_version, "catalogue version changed: regenerate the golden"
    assert codes == golden["codes"]
    # Stable across a fresh registry instance (reload) and across single-row calls.
    again, _ = _golden_model(tmp_path / "other")
    assert again.reason_codes(X) == codes
    assert [model.reason_codes(X[i:i + 1])[0] for i in range(len(X))] == codes


def test_reasons_are_at_most_four_adverse_and_ordered(tmp_path: Path) -> None:
    model, X = _golden_model(tmp_path)
    contrib = model.contributions(X)[:, :-1]
    cat = load_catalogue()
    for i, codes in enumerate(model.reason_codes(X)):
        assert len(codes) <= MAX_REASONS and len(set(codes)) == len(codes)
        # recompute each code's summed contribution; they must be positive and non-increasing
        by_code: dict[str, float] = {}
        for j, f in enumerate(FEATURE_NAMES):
            e = cat.by_feature[f]
            code = e.missing_code if (np.isnan(X[i, j]) and e.missing_code) else e.code
            by_code[code] = by_code.get(code, 0.0) + contrib[i, j]
        values = [by_code[c] for c in codes]
        assert all(v > 0 for v in values)
        assert values == sorted(values, reverse=True)
        assert all(model.reason_texts(codes))


@pytest.mark.parametrize(
    "contrib,x,expected",
    [
        # ordered by contribution
        ([0.1, 0.5, 0.3, 0.0], [1, 1, 1, 1], ["ENQUIRY_VELOCITY", "HIGH_UTILISATION", "DPD30_RECENT"]),
        # exact tie: catalogue order decides (DPD90 is listed before DPD30 and enquiries)
        ([0.2, 0.2, 0.0, 0.2], [1, 1, 1, 1], ["DPD90_RECENT", "DPD30_RECENT", "ENQUIRY_VELOCITY"]),
        # no adverse contribution -> no reasons
        ([-0.1, 0.0, -0.3, -0.2], [1, 1, 1, 1], []),
        # missing values get their own codes; fields sharing a code add up (0.1 + 0.1 for NO_BUREAU_DATA)
        ([0.1, 0.1, 0.1, 0.25], [np.nan, np.nan, np.nan, 1],
         ["DPD90_RECENT", "NO_BUREAU_DATA", "NO_REVOLVING_HISTORY"]),
        ([0.1, 0.1, 0.0, 0.15], [np.nan, np.nan, 1, 1], ["NO_BUREAU_DATA", "DPD90_RECENT"]),
    ],
)
def test_mapping_rules(contrib: list[float], x: list[float], expected: list[str]) -> None:
    names = ("dpd30_count_12m", "enquiries_90d", "utilisation_pct", "dpd90_count_12m")
    mapper = load_catalogue().mapper(names)
    assert mapper.map(np.array([contrib]), np.array([x], dtype=np.float64))[0] == expected


def test_at_most_four_even_with_many_adverse_features() -> None:
    mapper = load_catalogue().mapper(FEATURE_NAMES)
    contrib = np.linspace(1.0, 0.1, len(FEATURE_NAMES))[None, :]
    got = mapper.map(contrib, np.ones((1, len(FEATURE_NAMES))))[0]
    assert len(got) == 4
    with pytest.raises(ValueError):
        mapper.map(contrib, np.ones((1, len(FEATURE_NAMES))), k=5)


@pytest.mark.parametrize(
    "doc,match",
    [
        ({"features": []}, "version"),
        ({"version": "x", "features": [{"feature": "a", "code": "A"}]}, "text"),
        ({"version": "x", "features": [{"feature": "a", "code": "A", "text": "t"}] * 2}, "twice"),
        ({"version": "x", "features": [{"feature": "a", "code": "A", "text": "t", "missing_code": "M"}]}, "together"),
    ],
)
def test_catalogue_validation(doc: dict, match: str) -> None:
    with pytest.raises(ReasonCatalogueError, match=match):
        parse_catalogue(doc)


def test_catalogue_must_cover_every_model_feature() -> None:
    with pytest.raises(ReasonCatalogueError, match="no reason"):
        load_catalogue().mapper((*FEATURE_NAMES, "shoe_size"))


def test_thresholds_band() -> None:
    th = Thresholds(0.1, 0.2)
    assert th.band(np.array([0.05, 0.1, 0.15, 0.2, np.nan])).tolist() == [
        "approve", "refer", "refer", "decline", "decline"]


def test_reason_codes_use_the_compiled_kernel_with_the_numpy_values(tmp_path: Path) -> None:
    """Real time explains through the backfill's compiled kernel (one numba thread for small batches); its values
    are the numpy TreeSHAP's up to the last bits, so the reason codes are the same, row by row and in a batch."""
    import numba

    model, X = _golden_model(tmp_path)
    shap = model._explainer.get()
    assert shap is not None and model._explainer._compiled, "the kernel was not usable: numpy answered"
    threads = numba.get_num_threads()
    kernel = model._explainer.contributions(X)
    assert numba.get_num_threads() == threads  # the per-call one-thread setting is restored
    np.testing.assert_allclose(kernel, shap.contributions(X), rtol=0, atol=1e-12)
    numpy_codes = model.mapper.map(shap.contributions(X), X, MAX_REASONS)
    assert model.reason_codes(X) == numpy_codes
    assert [model.reason_codes(X[i:i + 1])[0] for i in range(len(X))] == numpy_codes
