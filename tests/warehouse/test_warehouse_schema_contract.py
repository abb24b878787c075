"""The warehouse contract (schema.yaml) against the issue's list and against a real generated file."""

from __future__ import annotations

import duckdb
import pytest

from warehouse.schema import load_schema

# The tables and columns the issue fixes as the product's data contract (more may be added, none removed).
CONTRACT: dict[str, list[str]] = {
    "partners": ["partner_id", "name", "channel_type", "onboarded_on"],
    "lenders": ["lender_id", "name", "lender_type", "active"],
    "applicants": ["applicant_id", "full_name", "pan", "phone", "email", "date_of_birth", "gender", "city", "state",
                   "pincode"],
    "applications": ["application_id", "applicant_id", "partner_id", "received_at", "requested_amount",
                     "requested_tenure_months", "purpose", "employment_type", "monthly_income",
                     "employer_tenure_months", "existing_emi"],
    "bureau_reports": ["report_id", "applicant_id", "pulled_at", "bureau_score", "dpd30_count_12m",
                       "dpd90_count_12m", "enquiries_90d", "utilisation_pct", "oldest_account_age_months",
                       "secured_accounts", "unsecured_accounts", "total_outstanding", "thin_file",
                       "report_format_version"],
    "decisions": ["decision_id", "application_id", "partner_id", "lender_id", "request_id", "decided_at", "decision",
                  "score", "model_id", "model_version", "policy_version", "reason_codes", "offered_amount",
                  "offered_apr", "offered_tenure_months", "emi", "fallback_used", "feature_source", "latency_ms",
                  "features"],
    "loans": ["loan_id", "decision_id", "applicant_id", "lender_id", "disbursed_on", "principal", "apr",
              "tenure_months", "status", "max_dpd", "defaulted_on"],
    "repayments": ["loan_id", "instalment_no", "due_on", "paid_on", "amount_due", "amount_paid", "days_late"],
    "model_deployments": ["lender_id", "model_version", "deployed_at", "thresholds", "gate_result"],
    "ground_truth": ["application_id", "true_pd", "bad_if_funded", "months_to_default", "takeup_propensity"],
    "world_events": ["event_date", "scenario", "detail"],
}
PII = {"full_name", "pan", "phone", "email", "date_of_birth", "pincode"}


@pytest.mark.parametrize("table", sorted(CONTRACT))
def test_contract_table_declared_with_its_columns(table: str) -> None:
    declared = load_schema().table(table).column_names
    missing = [c for c in CONTRACT[table] if c not in declared]
    assert not missing, f"{table} lacks {missing}"


def test_every_table_and_column_has_a_description() -> None:
    for table in load_schema().tables.values():
        assert table.description, table.name
        for col in table.columns:
            assert col.description, f"{table.name}.{col.name}"


def test_pii_flags_are_exactly_the_personal_columns() -> None:
    assert load_schema().pii_columns == {("applicants", c) for c in PII}


def test_generated_file_carries_every_contract_table_and_column(small_world) -> None:
    con = duckdb.connect(str(small_world.replica), read_only=True)
    try:
        actual: dict[str, set[str]] = {}
        for t, c in con.execute("SELECT table_name, column_name FROM information_schema.columns").fetchall():
            actual.setdefault(t, set()).add(c)
    finally:
        con.close()
    for table in load_schema().tables.values():
        assert table.name in actual, table.name
        assert set(table.column_names) <= actual[table.name], table.name
