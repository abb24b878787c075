"""Fairness report: ratios match a hand-computed case, the four-fifths flag, intervals, and the warehouse report."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from decision_service.__main__ import main as decision_cli
from decision_service.fairness import fairness_report, group_rates, write_report
from warehouse.db import connect_writer, publish_replica


def _outcomes(spec: dict[str, tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """{group: (approved, total)} -> outcome and group arrays."""
    y, g = [], []
    for name, (k, n) in spec.items():
        y += [1] * k + [0] * (n - k)
        g += [name] * n
    return np.array(y), np.array(g)


@pytest.mark.parametrize(
    ("spec", "ratios", "flagged"),
    [
        # Hand computed: rates 0.8 / 0.5 / 0.64 -> ratios vs 0.8: 1, 0.625, 0.8 (exactly 0.8 is NOT below 0.8).
        ({"A": (80, 100), "B": (50, 100), "C": (64, 100)}, {"A": 1.0, "B": 0.625, "C": 0.8}, ["B"]),
        ({"f": (30, 60), "m": (40, 80)}, {"f": 1.0, "m": 1.0}, []),
        # A tiny group (n < 30) is reported but neither the reference nor flagged.
        ({"big1": (60, 100), "big2": (45, 100), "tiny": (5, 5)}, {"big1": 1.0, "big2": 0.75, "tiny": 1 / 0.6},
         ["big2"]),
    ],
)
def test_disparate_impact_hand_computed(spec: dict[str, tuple[int, int]], ratios: dict[str, float],
                                        flagged: list[str]) -> None:
    y, g = _outcomes(spec)
    out = group_rates(y, g, n_boot=500, seed=1)
    for name, (k, n) in spec.items():
        assert out["groups"][name]["n"] == n
        assert out["groups"][name]["rate"] == pytest.approx(k / n)
        assert out["groups"][name]["di_ratio"] == pytest.approx(ratios[name])
    assert out["flagged"] == flagged
    rates = [k / n for k, n in spec.values()]
    assert out["demographic_parity_ratio"] == pytest.approx(min(rates) / max(rates))


def test_bootstrap_intervals_cover_the_estimate_and_shrink_with_n() -> None:
    small = group_rates(*_outcomes({"a": (40, 100), "b": (30, 100)}), n_boot=2000, seed=0)
    large = group_rates(*_outcomes({"a": (4000, 10000), "b": (3000, 10000)}), n_boot=2000, seed=0)
    for out in (small, large):
        for grp in out["groups"].values():
            assert grp["ci95"][0] <= grp["rate"] <= grp["ci95"][1]
            assert grp["di_ci95"][0] <= grp["di_ratio"] <= grp["di_ci95"][1]
    width = lambda o: o["groups"]["b"]["ci95"][1] - o["groups"]["b"]["ci95"][0]  # noqa: E731
    assert width(large) < width(small) / 5
    # Binomial standard error: 1.96 * sqrt(.3 * .7 / 100) ~ 0.09 each side.
    assert width(small) == pytest.approx(2 * 1.96 * np.sqrt(0.3 * 0.7 / 100), rel=0.2)
    # Same seed, same intervals.
    again = group_rates(*_outcomes({"a": (40, 100), "b": (30, 100)}), n_boot=2000, seed=0)
    assert again == small


def _tiny_warehouse(path: Path) -> None:
    """Two genders, known approvals and defaults: women 2/4 approved, men 4/4 -> ratio 0.5, flagged."""
    received = dt.datetime(2026, 10, 5, 12)
    people = [("A1", "female", dt.date(2000, 1, 1), "Kerala"), ("A2", "female", dt.date(1980, 1, 1), "Kerala"),
              ("A3", "male", dt.date(2000, 1, 1), "Goa"), ("A4", "male", dt.date(1960, 1, 1), "Goa")]
    decisions = [("A1", "approve"), ("A1", "decline"), ("A2", "approve"), ("A2", "refer"),
                 ("A3", "approve"), ("A3", "approve"), ("A4", "approve"), ("A4", "approve")]
    with connect_writer(path) as con:
        con.register("p", pa.table({"applicant_id": [p[0] for p in people], "gender": [p[1] for p in people],
                                    "date_of_birth": [p[2] for p in people], "state": [p[3] for p in people]}))
        con.execute("INSERT INTO applicants BY NAME SELECT * FROM p")
        for i, (who, decision) in enumerate(decisions):
            con.execute("INSERT INTO applications (application_id, applicant_id, partner_id, received_at) "
                        "VALUES (?, ?, 'P01', ?)", [f"APP{i}", who, received])
            con.execute("INSERT INTO decisions (decision_id, application_id, lender_id, decision) VALUES (?, ?, ?, ?)",
                        [f"D{i}", f"APP{i}", "L01" if i % 2 else "L02", decision])
        for i, (who, defaulted) in enumerate([("A1", None), ("A3", dt.date(2026, 1, 1)), ("A4", None)]):
            con.execute("INSERT INTO loans (loan_id, applicant_id, lender_id, disbursed_on, defaulted_on) "
                        "VALUES (?, ?, 'L01', ?, ?)", [f"L{i}", who, dt.date(2025, 6, 1), defaulted])
        publish_replica(con, path.with_name("replica.duckdb"))


def test_report_from_the_warehouse(tmp_path: Path) -> None:
    _tiny_warehouse(tmp_path / "w.duckdb")
    import duckdb

    with duckdb.connect(str(tmp_path / "replica.duckdb"), read_only=True) as con:
        report = fairness_report(con, n_boot=200, min_group_size=1)
        only_l02 = fairness_report(con, lender_id="L02", n_boot=200, min_group_size=1)
    gender = report["attributes"]["gender"]["approval"]
    assert report["decisions"] == 8 and report["overall_approval_rate"] == pytest.approx(6 / 8)
    assert gender["groups"]["female"]["rate"] == pytest.approx(0.5)
    assert gender["groups"]["male"]["rate"] == pytest.approx(1.0)
    assert gender["groups"]["female"]["di_ratio"] == pytest.approx(0.5)
    assert report["flagged"]["gender"] == ["female"]
    ages = report["attributes"]["age_band"]["approval"]["groups"]
    assert set(ages) == {"26-35", "46-60", "61+"}  # ages 26, 46 and 66 at the application date
    defaults = report["attributes"]["state"]["default"]["groups"]
    assert defaults["Goa"]["rate"] == pytest.approx(0.5) and defaults["Kerala"]["rate"] == 0.0
    assert only_l02["decisions"] == 4  # even-numbered decisions went to L02
    json_path, html_path = write_report(report, tmp_path / "out")
    assert json.loads(json_path.read_text())["flagged"]["gender"] == ["female"]
    html = html_path.read_text()
    assert "plotly" in html.lower() and "by gender" in html and "by age_band" in html


def test_cli_writes_json_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tiny_warehouse(tmp_path / "w.duckdb")
    rc = decision_cli(["fairness", "--warehouse", str(tmp_path / "replica.duckdb"), "--out", str(tmp_path / "o"),
                       "--n-boot", "100", "--min-group-size", "1"])
    assert rc == 0
    assert (tmp_path / "o" / "fairness.json").exists() and (tmp_path / "o" / "fairness.html").exists()
    assert "flagged: female" in capsys.readouterr().out
