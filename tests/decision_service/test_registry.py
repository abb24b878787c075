"""Registry: immutability, hash checks, promote / rollback / challenger, reload, deployment rows."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from decision_service import model as model_mod
from decision_service import model_errors, model_store, registry
from decision_service.features import FEATURE_NAMES
from decision_service.registry import (
    ArtifactIntegrityError,
    GateNotPassedError,
    MetadataError,
    ModelRegistry,
    ModelVersionExistsError,
    NoChampionError,
    NothingToRollBackError,
    Thresholds,
    ThresholdsError,
)
from decision_service.training import TrainParams, fit_model, make_artifact
from decision_service.training.synthetic import synthetic_training_data

WINDOW = {"start": "2025-01-01", "end": "2025-01-15"}


@pytest.fixture(scope="module")
def fitted():
    X, y, _ = synthetic_training_data(6000, seed=3)
    return fit_model(X, y, FEATURE_NAMES, TrainParams(num_trees=40, seed=3)), X


def _register(reg: ModelRegistry, fitted_model, lender: str = "L01", version: str | None = None,
              th: Thresholds = Thresholds(0.1, 0.2)) -> str:
    art, meta = make_artifact(fitted_model, lender, th, training_window=WINDOW, metrics={"auc": 0.8})
    if version:
        meta["version"] = version
    return reg.register(art, meta)


def test_register_assigns_versions_and_refuses_overwrite(tmp_path: Path, fitted) -> None:
    reg = ModelRegistry(tmp_path)
    fm, _ = fitted
    assert _register(reg, fm) == "v001"
    assert _register(reg, fm) == "v002"
    with pytest.raises(ModelVersionExistsError):
        _register(reg, fm, version="v001")
    meta = reg.metadata("L01", "v001")
    assert meta["feature_names"] == list(FEATURE_NAMES)
    assert meta["model_id"].startswith("L01-v001-")
    assert len(meta["artifact_sha256"]) == 64
    assert not os.access(tmp_path / "L01" / "v001" / "model.txt", os.W_OK) or os.geteuid() == 0


@pytest.mark.parametrize("missing", ["lender_id", "feature_names", "thresholds", "shap_reference"])
def test_register_requires_metadata(tmp_path: Path, fitted, missing: str) -> None:
    fm, _ = fitted
    art, meta = make_artifact(fm, "L01", Thresholds(0.1, 0.2), training_window=WINDOW)
    del meta[missing]
    with pytest.raises(MetadataError):
        ModelRegistry(tmp_path).register(art, meta)


@pytest.mark.parametrize("approve,refer", [(0.3, 0.2), (-0.1, 0.2), (0.1, 1.5)])
def test_thresholds_validated(approve: float, refer: float) -> None:
    with pytest.raises(ThresholdsError):
        Thresholds(approve, refer)


@pytest.mark.parametrize("victim", ["model.txt", "calibrator.json", "reason_catalogue.yaml"])
def test_tampered_artifact_is_refused(tmp_path: Path, fitted, victim: str) -> None:
    fm, _ = fitted
    reg = ModelRegistry(tmp_path)
    v = _register(reg, fm)
    path = tmp_path / "L01" / v / victim
    path.chmod(0o644)
    path.write_text(path.read_text() + "\n ")
    with pytest.raises(ArtifactIntegrityError):
        ModelRegistry(tmp_path).load("L01", v)


def test_loaded_model_matches_training_predictions(tmp_path: Path, fitted) -> None:
    fm, X = fitted
    reg = ModelRegistry(tmp_path)
    v = _register(reg, fm)
    model = reg.load("L01", v)
    np.testing.assert_allclose(model.predict_pd(X[:500]), fm.predict_pd(X[:500]), rtol=1e-12)
    # n=1 scores exactly like the same row inside a batch
    assert model.predict_pd(X[7:8])[0] == pytest.approx(model.predict_pd(X[:500])[7], rel=1e-12)


def test_promote_rollback_challenger_lifecycle(tmp_path: Path, fitted) -> None:
    fm, _ = fitted
    reg = ModelRegistry(tmp_path)
    with pytest.raises(NoChampionError):
        reg.champion("L01")
    v1, v2, v3 = (_register(reg, fm) for _ in range(3))
    reg.promote("L01", v1, policy_version="L01-2025.1")  # first deployment needs no gate
    assert reg.champion("L01").version == v1

    with pytest.raises(GateNotPassedError):
        reg.promote("L01", v2)  # a champion exists and v2 never went through the gate
    reg.record_gate("L01", v2, {"passed": False, "thresholds": {"approve_below": 0.05, "refer_below": 0.15}})
    with pytest.raises(GateNotPassedError):
        reg.promote("L01", v2)
    ev = reg.promote("L01", v2, force=True)
    assert ev["gate_result"] == "forced"
    assert reg.champion("L01").thresholds == Thresholds(0.05, 0.15)  # the gate's recalibrated cut-offs

    reg.set_challenger("L01", v3)
    assert reg.challenger("L01").version == v3
    assert reg.champion("L01").version == v2  # the challenger never decides
    reg.set_challenger("L01", None)
    assert reg.challenger("L01") is None

    reg.rollback("L01")
    champ = reg.champion("L01")
    assert (champ.version, champ.thresholds) == (v1, Thresholds(0.1, 0.2))
    with pytest.raises(NothingToRollBackError):
        reg.rollback("L01")

    rows = reg.deployment_rows()
    assert [(r["model_version"], r["role"], r["gate_result"]) for r in rows] == [
        (v1, "champion", "passed"),
        (v1, "retired", "forced"),
        (v2, "champion", "forced"),
        (v3, "challenger", "shadow"),
        (v3, "retired", "shadow"),
        (v2, "retired", "rollback"),
        (v1, "champion", "rollback"),
    ]
    assert json.loads(rows[0]["thresholds"]) == {"approve_below": 0.1, "refer_below": 0.2}
    assert rows[0]["policy_version"] == "L01-2025.1"
    assert set(rows[0]) == {"lender_id", "model_version", "deployed_at", "thresholds", "gate_result", "role",
                            "policy_version"}


def test_passing_gate_allows_promotion(tmp_path: Path, fitted) -> None:
    fm, _ = fitted
    reg = ModelRegistry(tmp_path)
    v1, v2 = _register(reg, fm), _register(reg, fm)
    reg.promote("L01", v1)
    reg.record_gate("L01", v2, {"passed": True, "thresholds": {"approve_below": 0.11, "refer_below": 0.21}})
    assert reg.promote("L01", v2)["gate_result"] == "passed"
    assert reg.champion("L01").thresholds == Thresholds(0.11, 0.21)


def test_reload_picks_up_promotion_from_another_process(tmp_path: Path, fitted) -> None:
    fm, _ = fitted
    serving = ModelRegistry(tmp_path)
    admin = ModelRegistry(tmp_path)
    v1, v2 = _register(admin, fm), _register(admin, fm)
    admin.promote("L01", v1)
    assert serving.reload() is True
    assert serving.champion("L01").version == v1
    assert serving.reload() is False  # nothing changed: a stat, no re-read
    admin.promote("L01", v2, force=True)
    assert serving.champion("L01").version == v1  # until reload
    assert serving.reload() is True
    assert serving.champion("L01").version == v2


@pytest.mark.parametrize("name", registry.__all__)
def test_registry_still_exports_every_public_name(name: str) -> None:
    """Callers across the repo import from decision_service.registry; the split must not move names away."""
    obj = getattr(registry, name)
    home = {"ModelArtifact": model_store, "ModelStore": model_store, "REQUIRED_METADATA": model_store,
            "CORE_FILES": model_store, "LoadedModel": model_mod, "Thresholds": model_mod}.get(name, model_errors)
    if name != "ModelRegistry":
        assert obj is getattr(home, name)  # one object, not a copy that could drift


def test_store_alone_writes_no_deployment_state(tmp_path: Path, fitted) -> None:
    """The seam: the write-once half registers and loads versions without touching pointers, gates or the log."""
    fm, X = fitted
    store = model_store.ModelStore(tmp_path)
    art, meta = make_artifact(fm, "L01", Thresholds(0.1, 0.2), training_window=WINDOW, metrics={"auc": 0.8})
    v = store.register(art, meta)
    assert store.load("L01", v).predict_pd(X[:5]).shape == (5,)
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert written == {".lock", *(f"L01/{v}/{name}" for name in (*model_store.CORE_FILES, "metadata.json"))}
    assert ModelRegistry(tmp_path).deployment_state("L01") == {"champion": None, "challenger": None, "history": []}
