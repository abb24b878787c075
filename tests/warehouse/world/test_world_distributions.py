"""Realism of the shared small world: correlated, sane distributions and a default rate that follows the score."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import duckdb
import pytest


@pytest.fixture(scope="module")
def con(small_world) -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect(str(small_world.replica), read_only=True)
    yield c
    c.close()


def one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple:
    return con.execute(sql).fetchone()


def test_bureau_score_quantiles_in_a_sane_range(con) -> None:
    lo, p5, p50, p95, hi = one(con, "SELECT min(bureau_score), quantile_cont(bureau_score, 0.05), "
                                    "median(bureau_score), quantile_cont(bureau_score, 0.95), max(bureau_score) "
                                    "FROM bureau_reports")
    assert lo >= 300 and hi <= 900
    assert 450 <= p5 <= 620
    assert 680 <= p50 <= 780
    assert 800 <= p95 <= 900


def test_thin_file_share_and_null_score(con) -> None:
    thin_share, inconsistent = one(con, "SELECT avg(thin_file::INT), count(*) FILTER "
                                        "(WHERE thin_file <> (bureau_score IS NULL)) FROM bureau_reports")
    assert 0.10 <= thin_share <= 0.20
    assert inconsistent == 0


def test_default_rate_rises_as_bureau_score_falls(con) -> None:
    rows = con.execute("""
        SELECT CASE WHEN bureau_score < 550 THEN 1 WHEN bureau_score < 650 THEN 2
                    WHEN bureau_score < 750 THEN 3 ELSE 4 END AS band,
               avg(bad_if_funded::INT) AS bad_rate, count(*) AS n
        FROM bureau_reports JOIN ground_truth USING (application_id)
        WHERE NOT thin_file GROUP BY band ORDER BY band""").fetchall()
    rates = [r[1] for r in rows]
    assert [r[0] for r in rows] == [1, 2, 3, 4] and min(r[2] for r in rows) >= 500
    assert all(a > b for a, b in itertools.pairwise(rates)), rates
    assert rates[0] > 3 * rates[-1]


def test_delinquency_utilisation_and_score_are_correlated(con) -> None:
    dpd_corr, util_corr = one(con, "SELECT corr(bureau_score, dpd30_count_12m), corr(bureau_score, utilisation_pct) "
                                   "FROM bureau_reports WHERE NOT thin_file")
    assert dpd_corr < -0.3 and util_corr < -0.3


def test_truth_outcomes_are_consistent(con) -> None:
    bad_share, mean_pd, good_pd, bad_months_ok, good_months_null = one(con, """
        SELECT avg(bad_if_funded::INT), avg(true_pd), avg(true_pd) FILTER (WHERE true_pd < 0.08),
               bool_and(months_to_default BETWEEN 3 AND 12) FILTER (WHERE bad_if_funded),
               bool_and(months_to_default IS NULL) FILTER (WHERE NOT bad_if_funded)
        FROM ground_truth""")
    assert abs(bad_share - mean_pd) < 0.02  # outcomes drawn from the stated probabilities
    assert 0.10 <= mean_pd <= 0.30 and 0.02 <= good_pd <= 0.08
    assert bad_months_ok and good_months_null


def test_applications_look_like_indian_personal_loans(con) -> None:
    amt_lo, amt_hi, ten_lo, ten_hi, sal_inc, se_inc, repeat = one(con, """
        SELECT min(requested_amount), max(requested_amount), min(requested_tenure_months),
               max(requested_tenure_months),
               median(monthly_income) FILTER (WHERE employment_type = 'salaried'),
               median(monthly_income) FILTER (WHERE employment_type = 'self_employed'),
               1 - count(DISTINCT applicant_id) / count(*)
        FROM applications""")
    assert amt_lo >= 25_000 and amt_hi <= 1_500_000 and ten_lo >= 6 and ten_hi <= 60
    assert 25_000 <= sal_inc <= 80_000 and 25_000 <= se_inc <= 100_000
    assert 0.08 <= repeat <= 0.17


def test_bureau_pulled_seconds_after_the_application(con) -> None:
    lo, hi = one(con, "SELECT min(epoch(pulled_at - received_at)), max(epoch(pulled_at - received_at)) "
                      "FROM bureau_reports JOIN applications USING (application_id)")
    assert lo > 0 and hi < 600


def test_applicant_pii_formats(con) -> None:
    rows = con.execute("SELECT full_name, pan, phone, email, pincode, gender FROM applicants USING SAMPLE 2000 ROWS "
                       "(reservoir, 1)").fetchall()
    for full_name, pan, phone, email, pincode, gender in rows:
        assert re.fullmatch(r"[A-Z]{3}P[A-Z][0-9]{4}[A-Z]", pan)
        assert pan[4] == full_name.split()[-1][0].upper()
        assert re.fullmatch(r"\+91[6-9][0-9]{9}", phone)
        assert re.fullmatch(r"[a-z._0-9]+@[a-z.]+", email)
        assert re.fullmatch(r"[1-9][0-9]{5}", pincode)
        assert gender in {"male", "female", "other"}
    dup_pan, dup_phone = one(con, "SELECT count(*) - count(DISTINCT pan), count(*) - count(DISTINCT phone) "
                                  "FROM applicants")
    assert dup_pan == 0 and dup_phone == 0


def test_applicants_aged_21_to_60_when_applying(con) -> None:
    lo, hi = one(con, "SELECT min(date_diff('year', date_of_birth, received_at::DATE)), "
                      "max(date_diff('year', date_of_birth, received_at::DATE)) "
                      "FROM applications JOIN applicants USING (applicant_id)")
    assert lo >= 20 and hi <= 61


def test_internal_history_predates_the_window_and_is_consistent(con, small_world) -> None:
    start = small_world.start_date
    late_loans, with_decision, late_due = one(con, f"""
        SELECT (SELECT count(*) FROM loans WHERE disbursed_on >= DATE '{start}'),
               (SELECT count(*) FROM loans WHERE decision_id IS NOT NULL),
               (SELECT count(*) FROM repayments WHERE due_on >= DATE '{start}' OR paid_on >= DATE '{start}')""")
    assert late_loans == with_decision == late_due == 0
    unpaid_mismatch, negative = one(con, "SELECT count(*) FILTER (WHERE (paid_on IS NULL) <> (amount_paid = 0)), "
                                         "count(*) FILTER (WHERE days_late < 0) FROM repayments")
    assert unpaid_mismatch == 0 and negative == 0
    bad_status = one(con, "SELECT count(*) FROM loans WHERE (status IN ('defaulted', 'written_off')) "
                          "<> (defaulted_on IS NOT NULL) OR (defaulted_on IS NOT NULL AND max_dpd < 90)")[0]
    assert bad_status == 0


def test_repeat_applicants_more_often_have_history(con) -> None:
    repeat_share, single_share = one(con, """
        WITH per AS (SELECT applicant_id, count(*) AS n FROM applications GROUP BY 1),
             hist AS (SELECT DISTINCT applicant_id FROM loans)
        SELECT avg((h.applicant_id IS NOT NULL)::INT) FILTER (WHERE n > 1),
               avg((h.applicant_id IS NOT NULL)::INT) FILTER (WHERE n = 1)
        FROM per LEFT JOIN hist h USING (applicant_id)""")
    assert repeat_share > 5 * single_share
