"""The deployment gate catches the "thresholds were not migrated" incident and fixes the thresholds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from decision_service.features import FEATURE_NAMES
from decision_service.gate import GateError, gate_candidate, run_gate
from decision_service.registry import GateNotPassedError, ModelRegistry, Thresholds
from decision_service.training import TrainParams, choose_thresholds, fit_model, make_artifact
from decision_service.training.synthetic import synthetic_training_data

WINDOW = {"start": "synthetic", "end": "synthetic"}
BASE = TrainParams(num_trees=40, seed=1)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """A registry with a champion (approving 40%), a faithful retrain and a miscalibrated retrain."""
    X, y, _ = synthetic_training_data(12_000, seed=21)
    reg = ModelRegistry(tmp_path_factory.mktemp("gate_registry"))
    models = {
        "champion": fit_model(X, y, FEATURE_NAMES, BASE),
        "retrain": fit_model(X, y, FEATURE_NAMES, dataclasses.replace(BASE, seed=2)),
        # The incident: a retrain on a re-weighted sample (bads x1.8) whose PDs come out about 1.6x higher.
        "shifted": fit_model(X, y, FEATURE_NAMES, dataclasses.replace(BASE, seed=3, oversample_bads=1.8)),
    }
    th = choose_thresholds(models["champion"].predict_pd(X), 0.40, 0.12)
    versions = {}
    for name, fm in models.items():
        art, meta = make_artifact(fm, "L09", th, training_window=WINDOW)
        versions[name] = reg.register(art, meta)
    reg.promote("L09", versions["champion"])
    recent, _, _ = synthetic_training_data(20_000, seed=99)  # "recent traffic"
    fresh, _, _ = synthetic_training_data(20_000, seed=123)  # later traffic, never seen by the gate
    return reg, versions, recent, fresh


def test_faithful_retrain_passes(world) -> None:
    reg, versions, recent, _ = world
    result = run_gate(reg.champion("L09"), reg.load("L09", versions["retrain"]), recent)
    assert result.passed, result.deciles
    assert result.max_shift < 0.15


def test_shifted_model_is_flagged_and_thresholds_restore_the_approve_rate(world) -> None:
    reg, versions, recent, fresh = world
    champion = reg.champion("L09")
    candidate = reg.load("L09", versions["shifted"])
    result = run_gate(champion, candidate, recent)
    assert not result.passed
    assert len(result.flagged_deciles) >= 5
    ratio = np.mean([d["candidate_mean_pd"] / d["champion_mean_pd"] for d in result.deciles[:5]])
    assert 1.3 < ratio < 2.2  # the PDs really are shifted upwards
    # The incident: same thresholds, far fewer approvals.
    assert result.candidate_rates_unmigrated["approve"] < result.champion_rates["approve"] - 0.08
    # The fix on the gate's traffic, and on fresh traffic the gate never saw (within 1 percentage point).
    assert result.candidate_rates["approve"] == pytest.approx(result.champion_rates["approve"], abs=0.01)
    assert result.candidate_rates["refer"] == pytest.approx(result.champion_rates["refer"], abs=0.01)
    new_th = Thresholds.coerce(result.thresholds)
    champ_fresh = np.mean(champion.predict_pd(fresh) < champion.thresholds.approve_below)
    cand_fresh = np.mean(candidate.predict_pd(fresh) < new_th.approve_below)
    assert cand_fresh == pytest.approx(champ_fresh, abs=0.01)


def test_failed_gate_refuses_promotion_unless_forced(world, tmp_path: Path) -> None:
    reg, versions, recent, _ = world
    result, event = gate_candidate(reg, "L09", versions["shifted"], recent)
    assert not result.passed and event is None
    assert reg.champion("L09").version == versions["champion"]
    with pytest.raises(GateNotPassedError):
        reg.promote("L09", versions["shifted"])
    result, event = gate_candidate(reg, "L09", versions["shifted"], recent, force=True)
    assert event is not None and event["gate_result"] == "forced"
    live = reg.champion("L09")
    assert live.version == versions["shifted"] and live.thresholds == Thresholds.coerce(result.thresholds)
    reg.rollback("L09")
    assert reg.champion("L09").version == versions["champion"]


def test_passing_gate_promotes_with_recalibrated_thresholds(world) -> None:
    reg, versions, recent, _ = world
    result, event = gate_candidate(reg, "L09", versions["retrain"], recent)
    assert result.passed and event is not None and event["gate_result"] == "passed"
    assert reg.champion("L09").thresholds == Thresholds.coerce(result.thresholds)
    reg.rollback("L09")


@pytest.mark.parametrize("target", [0.30, 0.50])
def test_stated_target_rate(world, target: float) -> None:
    reg, versions, recent, _ = world
    result = run_gate(reg.champion("L09"), reg.load("L09", versions["shifted"]), recent, target_approve=target)
    assert result.candidate_rates["approve"] == pytest.approx(target, abs=0.005)


def test_gate_needs_traffic(world) -> None:
    reg, versions, recent, _ = world
    with pytest.raises(GateError):
        run_gate(reg.champion("L09"), reg.load("L09", versions["retrain"]), recent[:10])
