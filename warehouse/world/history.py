"""Internal repayment history: loans booked before the marketplace window and their instalments.

Repeat applicants (and a small share of first-time applicants) have borrowed through the marketplace before. Their
older loans (``decision_id`` NULL, disbursed before the window starts) and repayments follow from the same latent
creditworthiness as their new applications, so "has paid late before" is genuinely predictive, as in real books.
Everything is stated as of the window's first day: later instalments do not exist yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from warehouse.world.entities import LENDERS
from warehouse.world.people import _digits, _fixed_width_strings
from warehouse.world.truth import emi, sigmoid

HIST_TENURES = np.array([6, 12, 18, 24, 36])
SHARE_REPEAT = 0.35
"""Share of repeat applicants who already have an internal loan."""
SHARE_OTHER = 0.02
"""Share of single-application applicants who have one."""


@dataclass
class History:
    loans: pa.Table
    repayments: pa.Table
    defaulted: np.ndarray
    """Per applicant (store order): any earlier loan reached 90+ DPD."""
    avg_days_late: np.ndarray
    restructured: np.ndarray
    clean: np.ndarray
    """Per applicant: has history and never paid 30+ days late."""


def _ids(prefix: bytes, numbers: np.ndarray, width: int) -> pa.Array:
    out = np.empty((len(numbers), len(prefix) + width), dtype=np.uint8)
    out[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    out[:, len(prefix):] = _digits(numbers.astype(np.int64), width)
    return _fixed_width_strings(out)


def build_history(z: np.ndarray, applications_per_applicant: np.ndarray, applicant_ids: pa.Array,
                  start_date: dt.date, rng: np.random.Generator) -> History:
    """Older loans for a subset of applicants (``z`` and counts in applicant-store order)."""
    n_people = len(z)
    p = np.where(applications_per_applicant > 1, SHARE_REPEAT, SHARE_OTHER)
    owners = np.flatnonzero(rng.random(n_people) < p)
    owners = np.repeat(owners, 1 + (rng.random(len(owners)) < 0.2))  # a fifth of them borrowed twice
    n = len(owners)
    zl = z[owners]
    today = np.datetime64(start_date, "D")
    disbursed = today - rng.integers(45, 1100, n).astype("timedelta64[D]")
    tenure = HIST_TENURES[rng.choice(len(HIST_TENURES), n, p=[0.1, 0.3, 0.2, 0.25, 0.15])]
    principal = np.clip(np.round(rng.lognormal(np.log(1.2e5), 0.7, n), -3), 20_000, 800_000)
    apr = np.round(np.clip(12.5 + 10 * sigmoid(-zl) + rng.normal(0, 1.5, n), 10.5, 36.0), 2)
    appetite_order = np.array([0, 1, 2, 3, 4])  # L01 most conservative ... L05 most aggressive
    lender = np.clip(np.round(2 - 1.1 * zl + rng.normal(0, 1.0, n)), 0, 4).astype(int)
    bad = rng.random(n) < sigmoid(-2.5 - 1.05 * zl)
    restructured = rng.random(n) < np.where(bad, 0.12, 0.015)
    p_late = sigmoid(-2.1 - 0.85 * zl + 1.2 * restructured)

    # one row per instalment already due before the window starts
    month0 = disbursed.astype("datetime64[M]")
    dom = np.minimum((disbursed - month0.astype("datetime64[D]")).astype(np.int64), 27)
    elapsed = ((today.astype("datetime64[M]") - month0).astype(np.int64)).clip(0)
    n_due = np.minimum(tenure, elapsed)
    loan_of = np.repeat(np.arange(n), n_due)
    inst = np.arange(len(loan_of)) - np.repeat(np.cumsum(n_due) - n_due, n_due) + 1
    due = (month0[loan_of] + inst.astype("timedelta64[M]")).astype("datetime64[D]") + dom[loan_of].astype(
        "timedelta64[D]")
    keep = due < today
    loan_of, inst, due = loan_of[keep], inst[keep], due[keep]
    first_missed = 1 + np.floor(rng.random(n) * tenure).astype(int)
    missed = bad[loan_of] & (inst >= first_missed[loan_of])
    late = rng.random(len(loan_of)) < p_late[loan_of]
    days_late = np.where(late, np.minimum(rng.geometric(1 / 9, len(loan_of)), 75), 0)
    paid_on = due + days_late.astype("timedelta64[D]")
    unpaid = missed | (paid_on >= today)
    outstanding_days = (today - due).astype(np.int64)
    days_late = np.where(unpaid, outstanding_days, days_late)
    amount_due = np.round(emi(principal, tenure, apr / 100), 2)[loan_of]

    max_dpd = np.zeros(n, dtype=np.int64)
    np.maximum.at(max_dpd, loan_of, days_late)
    n_paid = np.bincount(loan_of, weights=~unpaid, minlength=n)
    first_missed_due = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    order = np.flatnonzero(missed)[::-1]  # later rows first so the earliest missed instalment wins
    first_missed_due[loan_of[order]] = due[order]
    defaulted_on = first_missed_due + np.timedelta64(90, "D")
    defaulted = max_dpd >= 90
    defaulted_on = np.where(defaulted & (defaulted_on < today), defaulted_on, np.datetime64("NaT"))
    defaulted = ~np.isnat(defaulted_on)
    status = np.where(n_paid >= tenure, "closed", np.where(max_dpd >= 30, "delinquent", "current"))
    current_dpd = np.zeros(n, dtype=np.int64)
    np.maximum.at(current_dpd, loan_of[unpaid], days_late[unpaid])
    status = np.where((status == "delinquent") & (current_dpd < 30), "current", status)
    status = np.where(defaulted, "defaulted", status)
    status = np.where(defaulted & (defaulted_on < today - np.timedelta64(180, "D")), "written_off", status)

    loan_ids = _ids(b"HL", np.arange(n), 8)
    lender_ids = np.array([lender_.lender_id for lender_ in LENDERS])[appetite_order[lender]]
    loans = pa.table({
        "loan_id": loan_ids,
        "decision_id": pa.nulls(n, pa.string()),
        "applicant_id": applicant_ids.take(pa.array(owners)),
        "lender_id": pa.array(lender_ids),
        "disbursed_on": pa.array(disbursed, type=pa.date32()),
        "principal": principal,
        "apr": apr,
        "tenure_months": tenure.astype(np.int32),
        "status": pa.array(status),
        "max_dpd": max_dpd.astype(np.int32),
        "defaulted_on": pa.array(defaulted_on, type=pa.date32(), from_pandas=True),
        "restructured": restructured,
    })
    repayments = pa.table({
        "loan_id": loan_ids.take(pa.array(loan_of)),
        "instalment_no": inst.astype(np.int32),
        "due_on": pa.array(due, type=pa.date32()),
        "paid_on": pa.array(np.where(unpaid, np.datetime64("NaT"), paid_on), type=pa.date32(), from_pandas=True),
        "amount_due": amount_due,
        "amount_paid": np.where(unpaid, 0.0, amount_due),
        "days_late": days_late.astype(np.int32),
    })
    # applicant-level features for the truth
    per_person_late = np.zeros(n_people)
    per_person_rows = np.zeros(n_people)
    np.add.at(per_person_late, owners[loan_of], days_late)
    np.add.at(per_person_rows, owners[loan_of], 1)
    avg_late = np.divide(per_person_late, per_person_rows, out=np.zeros(n_people), where=per_person_rows > 0)
    person_default = np.zeros(n_people, dtype=bool)
    np.logical_or.at(person_default, owners, defaulted)
    person_restr = np.zeros(n_people, dtype=bool)
    np.logical_or.at(person_restr, owners, restructured)
    person_maxdpd = np.zeros(n_people, dtype=np.int64)
    np.maximum.at(person_maxdpd, owners, max_dpd)
    has = np.zeros(n_people, dtype=bool)
    has[owners] = True
    return History(loans, repayments, person_default, avg_late, person_restr, has & (person_maxdpd < 30))
