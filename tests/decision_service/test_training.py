"""Training on the small world: every lender gets a validated, calibrated champion and the approve-share story holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from decision_service.__main__ import main as cli
from decision_service.registry import ModelRegistry


@pytest.fixture(scope="module")
def trained(small_world, tmp_path_factory: pytest.TempPathFactory) -> tuple[ModelRegistry, str]:
    root = tmp_path_factory.mktemp("models")
    rc = cli(["train", "--warehouse", str(small_world.replica), "--model-dir", str(root)])
    assert rc == 0
    return ModelRegistry(root), str(root)


def test_every_lender_has_a_champion_with_report(trained) -> None:
    reg, _ = trained
    assert reg.lenders() == ["L01", "L02", "L03", "L04", "L05"]
    for lender in reg.lenders():
        model = reg.champion(lender)
        meta = model.metadata
        for key in ("feature_names", "training_window", "metrics", "score_deciles", "thresholds", "shap_reference",
                    "reason_catalogue_version", "artifact_sha256", "created_at", "model_id"):
            assert key in meta, key
        assert (model.path / "report.html").read_text().count("plotly") > 0
        report = json.loads((model.path / "report.json").read_text())
        assert {"calibration_oot", "deciles_oot", "shap_importance", "driver_check"} <= set(report)


@pytest.mark.parametrize("lender", ["L01", "L02", "L03", "L04", "L05"])
def test_out_of_time_discrimination_and_calibration(trained, lender: str) -> None:
    reg, _ = trained
    m = reg.champion(lender).metadata["metrics"]
    oot, dev = m["out_of_time"], m["development"]
    assert oot["auc"] > 0.70 and oot["gini"] == pytest.approx(2 * oot["auc"] - 1)
    assert 0.25 < oot["ks"] < 0.8
    # calibration sanity on the held-out development split: mean PD close to the observed bad rate
    assert dev["mean_pd"] == pytest.approx(dev["bad_rate"], abs=0.03)
    deciles = reg.champion(lender).metadata["score_deciles"]
    assert deciles[-1]["bad_rate"] > 3 * deciles[0]["bad_rate"]  # risk rises across deciles


def test_lenders_differ_in_appetite_and_story_holds(trained) -> None:
    reg, _ = trained
    rates = {lid: reg.champion(lid).metadata["decision_rates"] for lid in reg.lenders()}
    n = {lid: reg.champion(lid).metadata["applications_in_dev_window"] for lid in reg.lenders()}
    dev = sum(n[k] * rates[k]["development"]["approve"] for k in n) / sum(n.values())
    assert dev == pytest.approx(0.34, abs=0.015)
    # the prime bank is stricter than the subprime NBFC
    assert rates["L01"]["development"]["approve"] < rates["L05"]["development"]["approve"] - 0.1
    # the same thresholds approve less once the new partner's traffic arrives
    oot = sum(n[k] * rates[k]["out_of_time"]["approve"] for k in n) / sum(n.values())
    assert oot < dev - 0.02


def test_if_missing_skips_trained_lenders(trained, small_world, capsys) -> None:
    reg, root = trained
    assert cli(["train", "--if-missing", "--warehouse", str(small_world.replica), "--model-dir", root]) == 0
    assert "nothing to train" in capsys.readouterr().out
    assert all(reg.versions(lid) == ["v001"] for lid in reg.lenders())


def test_deployments_recorded(trained) -> None:
    reg, _ = trained
    rows = reg.deployment_rows()
    assert {(r["lender_id"], r["role"], r["gate_result"]) for r in rows} == {
        (lid, "champion", "passed") for lid in reg.lenders()}
    assert all(r["policy_version"] for r in rows)


def test_cli_usage_errors(trained, capsys) -> None:
    assert cli(["nope"]) == 2
    _, root = trained
    assert cli(["rollback", "--lender", "L01", "--model-dir", root]) == 1  # nothing to roll back to
    assert "refused" in capsys.readouterr().out
    assert Path(root, "deployments.jsonl").exists()
