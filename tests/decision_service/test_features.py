"""Features: contract names, explicit missing states, interactions, n=1 equals the batch row, warehouse history."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from decision_service.features import (
    FEATURE_NAMES,
    FeatureInputError,
    amortised_emi,
    build_features,
    features_for_rows,
    history_from_warehouse,
    load_inputs,
    to_matrix,
)
from decision_service.training.synthetic import synthetic_inputs
from warehouse.schema import load_schema


def _one(**overrides: object) -> dict[str, float]:
    """Features of one applicant built from a baseline row with ``overrides`` applied to app/bureau/history keys."""
    app, bureau, history = synthetic_inputs(1, seed=11)
    for key, value in overrides.items():
        for cols in (app, bureau, history):
            if key in cols:
                cols[key] = np.array([value], dtype=cols[key].dtype)
    feats = build_features(app, bureau, history)
    return {k: float(v[0]) for k, v in feats.items()}


def test_feature_names_match_the_warehouse_struct() -> None:
    struct = load_schema().tables["decisions"].column("features").type
    fields = [part.strip().split(" ")[0] for part in struct[len("STRUCT("):-1].split(",")]
    assert tuple(fields) == FEATURE_NAMES


@pytest.mark.parametrize(
    "overrides,feature,expected",
    [
        ({"thin_file": 1.0, "bureau_score": 0.0}, "bureau_score", "nan"),  # thin file: a state, never a zero score
        ({"thin_file": 1.0}, "thin_file", 1.0),
        ({"secured_accounts": 0.0, "unsecured_accounts": 0.0}, "secured_share", "nan"),
        ({"secured_accounts": 1.0, "unsecured_accounts": 3.0}, "secured_share", 0.25),
        ({"monthly_income": 0.0}, "loan_to_income", "nan"),  # no income: unknown, not infinite
        ({"monthly_income": np.nan}, "emi_to_income", "nan"),
        ({"requested_amount": 600000.0, "monthly_income": 50000.0}, "loan_to_income", 1.0),
        ({"employer_tenure_months": 5.0}, "short_tenure", 1.0),
        ({"employer_tenure_months": 6.0}, "short_tenure", 0.0),
        ({"employer_tenure_months": np.nan}, "short_tenure", "nan"),
        ({"prior_instalments_due": np.nan}, "repeat_borrower", 0.0),
        ({"prior_instalments_due": np.nan}, "repayment_consistency", "nan"),
        ({"prior_instalments_due": 10.0, "prior_instalments_on_time": 7.0}, "repayment_consistency", 0.7),
        ({"prior_instalments_due": 10.0, "prior_instalments_on_time": 7.0}, "repeat_borrower", 1.0),
    ],
)
def test_feature_rules(overrides: dict[str, float], feature: str, expected: float | str) -> None:
    value = _one(**overrides)[feature]
    if expected == "nan":
        assert np.isnan(value)
    else:
        assert value == pytest.approx(expected)


@pytest.mark.parametrize("employment,expected", [("self_employed", 1.0), ("salaried", 0.0), (None, "nan")])
def test_self_employed_interaction(employment: str | None, expected: float | str) -> None:
    app, bureau, history = synthetic_inputs(1, seed=2)
    app["employment_type"] = np.array([employment], dtype=object)
    f = build_features(app, bureau, history)
    if expected == "nan":
        assert np.isnan(f["self_employed"][0]) and np.isnan(f["lti_x_self_employed"][0])
    else:
        assert f["lti_x_self_employed"][0] == pytest.approx(f["loan_to_income"][0] * expected)


def test_emi_to_income_uses_the_amortisation_formula() -> None:
    app, bureau, history = synthetic_inputs(1, seed=4)
    f = build_features(app, bureau, history)
    emi = amortised_emi(app["requested_amount"], 18.0, app["requested_tenure_months"])
    assert f["emi_to_income"][0] == pytest.approx((app["existing_emi"][0] + emi[0]) / app["monthly_income"][0])
    assert amortised_emi(np.array([120000.0]), 0.0, np.array([12.0]))[0] == pytest.approx(10000.0)


def test_single_row_equals_batch_row() -> None:
    app, bureau, history = synthetic_inputs(300, seed=5)
    batch = to_matrix(build_features(app, bureau, history))
    for i in (0, 17, 299):
        row = to_matrix(build_features(*({k: v[i:i + 1] for k, v in cols.items()} for cols in (app, bureau, history))))
        np.testing.assert_array_equal(row[0], batch[i])


def test_missing_column_is_a_typed_error() -> None:
    app, bureau, history = synthetic_inputs(2)
    del bureau["enquiries_90d"]
    with pytest.raises(FeatureInputError, match="enquiries_90d"):
        build_features(app, bureau, history)


def test_warehouse_features_and_point_in_time_history(small_world) -> None:
    con = duckdb.connect(str(small_world.replica), read_only=True)
    cols = load_inputs(con, "SELECT * FROM applications WHERE applicant_id IN "
                            "(SELECT applicant_id FROM loans WHERE decision_id IS NULL) LIMIT 300")
    feats = features_for_rows(con, cols)
    assert set(feats) == set(FEATURE_NAMES) and len(feats["repeat_borrower"]) == len(cols["application_id"]) > 0
    assert np.nanmean(feats["repeat_borrower"]) > 0.5  # these applicants borrowed before the marketplace window
    rc = feats["repayment_consistency"]
    assert np.all((rc[~np.isnan(rc)] >= 0) & (rc[~np.isnan(rc)] <= 1))
    thin = feats["thin_file"] == 1
    assert np.all(np.isnan(feats["bureau_score"][thin]))
    # Point in time: as of the earliest loan's disbursal nobody has any history yet.
    first = con.execute("SELECT min(disbursed_on) FROM loans").fetchone()[0]
    early = history_from_warehouse(con, cols["applicant_id"], np.datetime64(first))
    assert np.all(np.isnan(early["prior_instalments_due"]))
