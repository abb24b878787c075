"""The feature vector: one pure, vectorised module shared by training, batch backfill and real-time scoring.

Why one module: training/serving skew comes from computing "the same" feature twice in two places. Here every
consumer (the trainer, the backfill, the API) passes column arrays (length n; n=1 in real time) through the same
:func:`build_features`, and :func:`to_matrix` orders them exactly as the model was trained, so skew is impossible by
construction.

Missing data is explicit: a value we do not know is NaN (NULL in the warehouse), never a silent zero. A thin-file
applicant has ``thin_file = 1`` and ``bureau_score = NaN``; a first-time borrower has ``repeat_borrower = 0`` and NaN
repayment-history features. LightGBM learns a separate branch for NaN, so "unknown" is a state the model can price.

Everything is plain numpy (no pandas) so that n=1 costs tens of microseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

FEATURE_NAMES: tuple[str, ...] = (
    "bureau_score",
    "dpd30_count_12m",
    "dpd90_count_12m",
    "enquiries_90d",
    "utilisation_pct",
    "oldest_account_age_months",
    "secured_share",
    "unsecured_accounts",
    "thin_file",
    "loan_to_income",
    "emi_to_income",
    "self_employed",
    "lti_x_self_employed",
    "employer_tenure_months",
    "short_tenure",
    "repeat_borrower",
    "repayment_consistency",
    "avg_days_late",
    "restructured",
    "requested_amount",
    "requested_tenure_months",
    "monthly_income",
    "applicant_age",
)
"""Exactly the fields (and order) of the ``decisions.features`` STRUCT in warehouse/schema.yaml."""

FEATURE_SET_VERSION = "fs-1"
"""Bumped whenever a feature's definition changes; stored in every model's metadata."""

REFERENCE_APR_PCT = 18.0
"""APR (percent) used to estimate the new loan's EMI for EMI-to-income, independent of the final offer: the offer
depends on the score, so using it here would make the feature circular."""

SHORT_TENURE_MONTHS = 6
"""Employer tenure below this many months sets ``short_tenure``."""

APP_KEYS = (
    "requested_amount",
    "requested_tenure_months",
    "employment_type",
    "monthly_income",
    "employer_tenure_months",
    "existing_emi",
    "date_of_birth",
    "received_at",
)
BUREAU_KEYS = (
    "bureau_score",
    "dpd30_count_12m",
    "dpd90_count_12m",
    "enquiries_90d",
    "utilisation_pct",
    "oldest_account_age_months",
    "secured_accounts",
    "unsecured_accounts",
    "total_outstanding",
    "thin_file",
)
HISTORY_KEYS = ("prior_instalments_due", "prior_instalments_on_time", "prior_avg_days_late", "prior_restructured")


class FeatureInputError(ValueError):
    """An input mapping lacks a required column or the columns have different lengths."""


def _float(values: Any, n: int) -> np.ndarray:
    """Column as float64 with None/NULL/masked -> NaN (DuckDB's fetchnumpy returns masked arrays for NULLs)."""
    if isinstance(values, np.ma.MaskedArray):
        return values.astype(np.float64).filled(np.nan)
    arr = np.asarray(values)
    if arr.dtype == object:
        arr = np.array([np.nan if v is None else v for v in arr.ravel()], dtype=np.float64)
    elif arr.dtype == bool:
        arr = arr.astype(np.float64)
    else:
        arr = arr.astype(np.float64, copy=False)
    if arr.shape != (n,):
        arr = np.broadcast_to(arr.reshape(-1) if arr.size == 1 else arr, (n,)).astype(np.float64)
    return arr


def _column(mapping: Mapping[str, Any], key: str, what: str) -> Any:
    try:
        return mapping[key]
    except KeyError:
        raise FeatureInputError(f"{what} input lacks column {key!r}") from None


def _length(app: Mapping[str, Any]) -> int:
    n = len(np.atleast_1d(np.asarray(_column(app, "requested_amount", "application"))))
    return n


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den with NaN where the denominator is missing or not positive (no division warnings, no infinities)."""
    out = np.full(num.shape, np.nan)
    ok = den > 0  # NaN compares False
    np.divide(num, den, out=out, where=ok)
    return out


def amortised_emi(principal: np.ndarray, apr_pct: np.ndarray | float, tenure_months: np.ndarray) -> np.ndarray:
    """Standard amortisation EMI = P r (1+r)^n / ((1+r)^n - 1), with r the monthly rate; P/n when the rate is 0."""
    p = np.asarray(principal, dtype=np.float64)
    n = np.asarray(tenure_months, dtype=np.float64)
    r = np.asarray(apr_pct, dtype=np.float64) / 1200.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        growth = np.power(1.0 + r, n)
        emi = np.where(r > 0, p * r * growth / (growth - 1.0), p / n)
    return np.where(n > 0, emi, np.nan)


def _age_years(dob: Any, at: Any, n: int) -> np.ndarray:
    if isinstance(dob, np.ma.MaskedArray):
        dob = dob.filled(np.datetime64("NaT"))
    if isinstance(at, np.ma.MaskedArray):
        at = at.filled(np.datetime64("NaT"))
    d = np.asarray(dob, dtype="datetime64[D]")
    t = np.asarray(at).astype("datetime64[D]")
    days = (t - d).astype(np.float64)  # NaT -> NaN via float conversion of the min int is not reliable; mask below
    bad = np.isnat(d) | np.isnat(t)
    years = days / 365.25
    years = np.where(bad, np.nan, years)
    return np.broadcast_to(years, (n,)).astype(np.float64)


def build_features(
    app: Mapping[str, Any],
    bureau: Mapping[str, Any],
    history: Mapping[str, Any] | None,
) -> dict[str, np.ndarray]:
    """Compute every feature in :data:`FEATURE_NAMES` from column arrays of equal length n.

    ``app`` carries the application columns (see :data:`APP_KEYS`), ``bureau`` the bureau-report columns (a missing
    report is all-NaN rows, which become NaN features), ``history`` the internal repayment aggregates of
    :func:`history_from_warehouse` (``None`` means no applicant has any history).
    """
    n = _length(app)
    amount = _float(_column(app, "requested_amount", "application"), n)
    tenure = _float(_column(app, "requested_tenure_months", "application"), n)
    income = _float(_column(app, "monthly_income", "application"), n)
    emp_tenure = _float(_column(app, "employer_tenure_months", "application"), n)
    existing_emi = _float(_column(app, "existing_emi", "application"), n)
    emp = np.asarray(_column(app, "employment_type", "application"), dtype=object).reshape(-1)
    if emp.shape != (n,):
        raise FeatureInputError(f"employment_type has {emp.shape[0]} rows, expected {n}")
    self_emp = np.where(emp == "self_employed", 1.0, np.where(emp == "salaried", 0.0, np.nan))
    age = _age_years(_column(app, "date_of_birth", "application"), _column(app, "received_at", "application"), n)

    b = {k: _float(_column(bureau, k, "bureau"), n) for k in BUREAU_KEYS}
    secured, unsecured = b["secured_accounts"], b["unsecured_accounts"]
    thin = b["thin_file"]
    # A thin file has no score: force NaN even if an upstream system sent a placeholder (0 or 300).
    score = np.where(thin == 1.0, np.nan, b["bureau_score"])

    annual_income = income * 12.0
    lti = _ratio(amount, annual_income)
    new_emi = amortised_emi(amount, REFERENCE_APR_PCT, tenure)
    eti = _ratio(existing_emi + new_emi, income)

    if history is None:
        due = np.full(n, np.nan)
        on_time = avg_late = restr = due
    else:
        due = _float(_column(history, "prior_instalments_due", "history"), n)
        on_time = _float(_column(history, "prior_instalments_on_time", "history"), n)
        avg_late = _float(_column(history, "prior_avg_days_late", "history"), n)
        restr = _float(_column(history, "prior_restructured", "history"), n)
    repeat = np.where(due > 0, 1.0, 0.0)  # known either way: no history is "not a repeat borrower", not unknown
    has_hist = repeat == 1.0

    return {
        "bureau_score": score,
        "dpd30_count_12m": b["dpd30_count_12m"],
        "dpd90_count_12m": b["dpd90_count_12m"],
        "enquiries_90d": b["enquiries_90d"],
        "utilisation_pct": b["utilisation_pct"],
        "oldest_account_age_months": b["oldest_account_age_months"],
        "secured_share": _ratio(secured, secured + unsecured),
        "unsecured_accounts": unsecured,
        "thin_file": thin,
        "loan_to_income": lti,
        "emi_to_income": eti,
        "self_employed": self_emp,
        "lti_x_self_employed": lti * self_emp,
        "employer_tenure_months": emp_tenure,
        "short_tenure": np.where(np.isnan(emp_tenure), np.nan, (emp_tenure < SHORT_TENURE_MONTHS).astype(np.float64)),
        "repeat_borrower": repeat,
        "repayment_consistency": np.where(has_hist, _ratio(on_time, due), np.nan),
        "avg_days_late": np.where(has_hist, avg_late, np.nan),
        "restructured": np.where(has_hist, restr, np.nan),
        "requested_amount": amount,
        "requested_tenure_months": tenure,
        "monthly_income": income,
        "applicant_age": age,
    }


def to_matrix(features: Mapping[str, np.ndarray], names: Sequence[str] = FEATURE_NAMES) -> np.ndarray:
    """Stack features into an (n, len(names)) float64 matrix in exactly the model's column order."""
    missing = [k for k in names if k not in features]
    if missing:
        raise FeatureInputError(f"features lack {missing}")
    return np.column_stack([np.asarray(features[k], dtype=np.float64) for k in names])


def empty_history(n: int) -> dict[str, np.ndarray]:
    """History for n applicants none of whom has borrowed before."""
    return {k: np.full(n, np.nan) for k in HISTORY_KEYS}


_HISTORY_SQL = """
WITH q AS (SELECT * FROM __history_query),
due AS (
    SELECT q.idx,
           count(*) AS due_n,
           count(*) FILTER (WHERE r.paid_on IS NOT NULL AND r.paid_on <= r.due_on) AS on_time_n,
           -- days late as known at as_of: an instalment paid after as_of was still outstanding then
           avg(CASE WHEN r.paid_on IS NOT NULL AND r.paid_on < CAST(q.as_of AS DATE) THEN greatest(r.days_late, 0)
                    ELSE greatest(date_diff('day', r.due_on, CAST(q.as_of AS DATE)), 0) END) AS avg_late
    FROM q
    JOIN loans l ON l.applicant_id = q.applicant_id AND l.disbursed_on < CAST(q.as_of AS DATE)
    JOIN repayments r ON r.loan_id = l.loan_id AND r.due_on < CAST(q.as_of AS DATE)
    GROUP BY q.idx
),
restr AS (
    SELECT q.idx, max(CASE WHEN l.restructured THEN 1 ELSE 0 END) AS restructured
    FROM q JOIN loans l ON l.applicant_id = q.applicant_id AND l.disbursed_on < CAST(q.as_of AS DATE)
    GROUP BY q.idx
)
SELECT q.idx, due.due_n, due.on_time_n, due.avg_late, restr.restructured
FROM q LEFT JOIN due USING (idx) LEFT JOIN restr USING (idx)
ORDER BY q.idx
"""


def history_from_warehouse(con: Any, applicant_ids: Sequence[str] | np.ndarray, as_of: Any) -> dict[str, np.ndarray]:
    """Internal repayment aggregates per applicant, point-in-time at ``as_of`` (a scalar or one value per applicant).

    Only loans disbursed and instalments due strictly before ``as_of`` count, so a backfill of old applications sees
    exactly what the real-time service would have seen then. Applicants without history get NaN everywhere.
    """
    import pyarrow as pa

    ids = np.asarray(applicant_ids, dtype=object).reshape(-1)
    n = ids.shape[0]
    if n == 0:
        return empty_history(0)
    when = np.asarray(as_of).astype("datetime64[us]")
    when = np.broadcast_to(when, (n,))
    table = pa.table({"idx": np.arange(n, dtype=np.int64), "applicant_id": ids.astype(str), "as_of": when})
    cur = con.cursor()
    try:
        cur.register("__history_query", table)
        res = cur.execute(_HISTORY_SQL).fetchnumpy()
    finally:
        cur.close()
    due = _float(res["due_n"], n)
    return {
        "prior_instalments_due": due,
        "prior_instalments_on_time": np.where(due > 0, _float(res["on_time_n"], n), np.nan),
        "prior_avg_days_late": np.where(due > 0, _float(res["avg_late"], n), np.nan),
        "prior_restructured": _float(res["restructured"], n),
    }


_INPUTS_SQL = """
SELECT a.application_id, a.applicant_id, a.partner_id, a.received_at,
       a.requested_amount, a.requested_tenure_months, a.employment_type, a.monthly_income,
       a.employer_tenure_months, a.existing_emi, p.date_of_birth,
       b.bureau_score, b.dpd30_count_12m, b.dpd90_count_12m, b.enquiries_90d, b.utilisation_pct,
       b.oldest_account_age_months, b.secured_accounts, b.unsecured_accounts, b.total_outstanding,
       CAST(b.thin_file AS INTEGER) AS thin_file
FROM ({source}) a
LEFT JOIN applicants p ON p.applicant_id = a.applicant_id
LEFT JOIN (
    SELECT * FROM bureau_reports QUALIFY row_number() OVER (PARTITION BY application_id ORDER BY pulled_at DESC) = 1
) b ON b.application_id = a.application_id
ORDER BY a.received_at, a.application_id
"""


def inputs_sql(source_sql: str = "SELECT * FROM applications") -> str:
    """The one query that assembles model inputs (application, applicant DOB, latest bureau report) for the rows of
    ``source_sql``: shared by real-time look-ups, training and the batch backfill, so they cannot drift apart."""
    return _INPUTS_SQL.format(source=source_sql)


def load_inputs(con: Any, source_sql: str = "SELECT * FROM applications", params: Sequence[Any] = ()) -> dict[str, Any]:
    """Fetch applications (rows of ``source_sql``, a query over ``applications``) with their latest bureau report.

    Returns the column arrays keyed by column name (application_id, applicant_id, partner_id, received_at plus every
    key of :data:`APP_KEYS` and :data:`BUREAU_KEYS`), ordered by received_at. Feed them to :func:`features_for_rows`.
    """
    return con.execute(inputs_sql(source_sql), list(params)).fetchnumpy()


def features_for_rows(con: Any, cols: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Features for rows fetched by :func:`load_inputs`, with point-in-time repayment history from the warehouse."""
    history = history_from_warehouse(con, cols["applicant_id"], cols["received_at"])
    return build_features(cols, cols, history)
