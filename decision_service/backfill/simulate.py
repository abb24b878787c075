"""Deterministic simulation of what the real-time path would have measured and what happened afterwards.

Everything random here is a pure function of the application id (a counter-based hash, not a stateful generator),
so a backfill gives identical rows whatever the batch size or the order in which days are processed, and a re-run
replaces rows with exactly the same rows.

* request timing: bureau features from the cache (the partner app prefetched them) or a live pull (400-800 ms, like
  the bureau simulator), model time per lender, and a small share of model timeouts answered by the fallback;
* take-up: among its approved offers the applicant picks the lowest APR and accepts with the world's
  ``takeup_propensity``;
* repayments: from the world's ground truth — a bad loan stops paying so that it reaches 90+ DPD at
  ``months_to_default``; a good loan pays every instalment, a few days late now and then.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

CACHE_SHARE = 0.55
"""Share of applications whose bureau features were prefetched into the cache when the user opened the app."""
MODEL_TIMEOUT_RATE = 0.004
"""Share of lender scorings that exceed the 500 ms budget and are answered by the rule-based fallback."""
MODEL_TIMEOUT_MS = 500.0
LATE_SHARE = 0.07
"""Share of a good loan's instalments paid late (1-15 days)."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def keys_for(ids: np.ndarray | pa.Array) -> np.ndarray:
    """A stable 64-bit key per identifier string (pandas' seeded hash: same across processes and releases)."""
    values = ids.to_numpy(zero_copy_only=False) if isinstance(ids, pa.Array | pa.ChunkedArray) else np.asarray(ids)
    return pd.util.hash_array(values.astype(object), categorize=False)


def uniform(keys: np.ndarray, stream: int) -> np.ndarray:
    """Uniform [0, 1) draws: splitmix64 of (key, stream). Independent streams for independent quantities."""
    with np.errstate(over="ignore"):
        z = keys.astype(np.uint64) + np.uint64(stream) * _GOLDEN + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _lognormal(u: np.ndarray, median: float, sigma: float) -> np.ndarray:
    from scipy.special import ndtri

    return median * np.exp(sigma * ndtri(np.clip(u, 1e-12, 1 - 1e-12)))


def request_timing(app_keys: np.ndarray) -> dict[str, np.ndarray]:
    """Per application: feature source and the time before scoring starts (API overhead + bureau)."""
    cached = uniform(app_keys, 11) < CACHE_SHARE
    bureau_ms = np.where(cached, _lognormal(uniform(app_keys, 12), 2.0, 0.4), 400.0 + 400.0 * uniform(app_keys, 13))
    overhead_ms = _lognormal(uniform(app_keys, 14), 6.0, 0.35)
    return {"feature_source": np.where(cached, "cache", "live"), "pre_ms": overhead_ms + bureau_ms}


def lender_timing(app_keys: np.ndarray, lender_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Per (application, lender): model time in ms and whether the model timed out (fallback answers)."""
    stream = 100 + 10 * lender_index
    timed_out = uniform(app_keys, stream) < MODEL_TIMEOUT_RATE
    model_ms = _lognormal(uniform(app_keys, stream + 1), 3.0, 0.5)
    model_ms = np.where(timed_out, MODEL_TIMEOUT_MS + _lognormal(uniform(app_keys, stream + 2), 1.5, 0.4), model_ms)
    return model_ms, timed_out


def _add_months(day: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Same day-of-month ``months`` later, clipped to the 28th so every month has it."""
    month0 = day.astype("datetime64[M]")
    dom = np.minimum((day - month0.astype("datetime64[D]")).astype(np.int64), 27)
    return (month0 + months.astype("timedelta64[M]")).astype("datetime64[D]") + dom.astype("timedelta64[D]")


def simulate_loans(offers: dict[str, np.ndarray], as_of: dt.date) -> tuple[pa.Table, pa.Table]:
    """Loans and repayments for the accepted offers, as known on ``as_of`` (the day after the world's last day).

    ``offers`` columns: application_id, decision_id, applicant_id, lender_id, decided_at, offered_amount,
    offered_apr, offered_tenure_months, emi, takeup_propensity, bad_if_funded, months_to_default (NaN if good).
    """
    keys = keys_for(offers["application_id"])
    taken = uniform(keys, 21) < offers["takeup_propensity"]
    decided = offers["decided_at"].astype("datetime64[D]")
    disbursed = decided + (1 + np.floor(uniform(keys, 22) * 5)).astype("timedelta64[D]")
    today = np.datetime64(as_of, "D")
    keep = taken & (disbursed < today)
    idx = np.flatnonzero(keep)
    n = len(idx)
    disbursed = disbursed[idx]
    keys = keys[idx]
    tenure = offers["offered_tenure_months"][idx].astype(np.int64)
    emi = np.round(offers["emi"][idx], 2)
    bad = offers["bad_if_funded"][idx].astype(bool)
    mtd = np.nan_to_num(offers["months_to_default"][idx].astype(np.float64), nan=0).astype(np.int64)
    # 90+ DPD at instalment months_to_default means the first missed instalment is three months earlier.
    first_missed = np.where(bad, np.maximum(mtd - 2, 1), tenure + 1)

    # One row per instalment already due before as_of.
    elapsed = (today.astype("datetime64[M]") - disbursed.astype("datetime64[M]")).astype(np.int64)
    n_due_max = np.clip(elapsed, 0, tenure)
    loan_of = np.repeat(np.arange(n), n_due_max)
    inst = np.arange(len(loan_of)) - np.repeat(np.cumsum(n_due_max) - n_due_max, n_due_max) + 1
    due = _add_months(disbursed[loan_of], inst)
    in_window = due < today
    loan_of, inst, due = loan_of[in_window], inst[in_window], due[in_window]
    row_keys = keys[loan_of] ^ inst.astype(np.uint64)
    late = uniform(row_keys, 23) < LATE_SHARE
    days_late = np.where(late, 1 + np.floor(uniform(row_keys, 24) * 15).astype(np.int64), 0)
    missed = inst >= first_missed[loan_of]
    paid_on = due + days_late.astype("timedelta64[D]")
    unpaid = missed | (paid_on >= today)
    days_late = np.where(unpaid, (today - due).astype(np.int64), days_late)

    max_dpd = np.zeros(n, dtype=np.int64)
    np.maximum.at(max_dpd, loan_of, days_late)
    current_dpd = np.zeros(n, dtype=np.int64)
    np.maximum.at(current_dpd, loan_of[unpaid], days_late[unpaid])
    n_paid = np.bincount(loan_of, weights=~unpaid, minlength=n)
    first_missed_due = _add_months(disbursed, np.minimum(first_missed, tenure))
    defaulted_on = first_missed_due + np.timedelta64(90, "D")
    defaulted = bad & (first_missed <= tenure) & (defaulted_on < today)
    status = np.where(n_paid >= tenure, "closed", np.where(current_dpd >= 30, "delinquent", "current"))
    status = np.where(defaulted, "defaulted", status)

    loans = pa.table({
        "loan_id": pa.array(np.char.add("BL-", offers["application_id"][idx].astype(str))),
        "decision_id": pa.array(offers["decision_id"][idx].astype(str)),
        "applicant_id": pa.array(offers["applicant_id"][idx].astype(str)),
        "lender_id": pa.array(offers["lender_id"][idx].astype(str)),
        "disbursed_on": pa.array(disbursed, type=pa.date32()),
        "principal": offers["offered_amount"][idx].astype(np.float64),
        "apr": offers["offered_apr"][idx].astype(np.float64),
        "tenure_months": tenure.astype(np.int32),
        "status": pa.array(status),
        "max_dpd": max_dpd.astype(np.int32),
        "defaulted_on": pa.array(np.where(defaulted, defaulted_on, np.datetime64("NaT")), type=pa.date32(),
                                 from_pandas=True),
        "restructured": np.zeros(n, dtype=bool),
    })
    loan_ids = loans.column("loan_id").combine_chunks()
    repayments = pa.table({
        "loan_id": loan_ids.take(pa.array(loan_of)),
        "instalment_no": inst.astype(np.int32),
        "due_on": pa.array(due, type=pa.date32()),
        "paid_on": pa.array(np.where(unpaid, np.datetime64("NaT"), paid_on), type=pa.date32(), from_pandas=True),
        "amount_due": emi[loan_of],
        "amount_paid": np.where(unpaid, 0.0, emi[loan_of]),
        "days_late": days_late.astype(np.int32),
    })
    return loans, repayments
