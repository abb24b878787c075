"""Training data from the warehouse: windows, per-lender samples, labels.

Windows (documented in docs/models.md): the *development window* is the first ``dev_days`` (14) days of the world,
cut short at the first partner that goes live inside the world (the new partner), so models and initial thresholds
are fitted on the established marketplace only. Everything after it is the *out-of-time* window used for validation.

A lender only ever sees applications from the partners routed to it (``partner_lenders``), so each lender's model is
trained on its own population; that, its hyper-parameters and its appetite are what make the five models differ.
Samples are deterministic (ordered by a seeded hash of the application id), so a retrain is reproducible.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from decision_service.features import FEATURE_NAMES, features_for_rows, load_inputs, to_matrix

DEV_DAYS = 14


class WarehouseDataError(RuntimeError):
    """The warehouse lacks the tables or rows training needs."""


@dataclass(frozen=True)
class Windows:
    world_start: dt.date
    world_end: dt.date  # exclusive
    dev_start: dt.date
    dev_end: dt.date  # exclusive
    oot_start: dt.date
    oot_end: dt.date  # exclusive
    new_partner_on: dt.date | None

    def to_dict(self) -> dict[str, str | None]:
        return {k: (v.isoformat() if v else None) for k, v in self.__dict__.items()}


def windows(con: Any, dev_days: int = DEV_DAYS) -> Windows:
    row = con.execute("SELECT min(received_at)::DATE, max(received_at)::DATE FROM applications").fetchone()
    if row is None or row[0] is None:
        raise WarehouseDataError("the warehouse has no applications; generate the world first")
    start, last = row
    end = last + dt.timedelta(days=1)
    new_on = con.execute("SELECT min(onboarded_on) FROM partners WHERE onboarded_on > ?", [start]).fetchone()[0]
    dev_end = start + dt.timedelta(days=dev_days)
    if new_on is not None:
        dev_end = min(dev_end, new_on)
    dev_end = min(dev_end, end)
    if dev_end <= start:
        raise WarehouseDataError("the development window is empty")
    return Windows(start, end, start, dev_end, dev_end, end, new_on)


def lenders(con: Any) -> list[tuple[str, str]]:
    """(lender_id, lender_type) of the active lenders."""
    return [tuple(r) for r in con.execute(
        "SELECT lender_id, lender_type FROM lenders WHERE coalesce(active, TRUE) ORDER BY lender_id").fetchall()]


def _source(lender_id: str, start: dt.date, end: dt.date, limit: int | None, seed: int) -> tuple[str, list[Any]]:
    sql = (
        "SELECT * FROM applications WHERE received_at >= ? AND received_at < ? "
        "AND partner_id IN (SELECT partner_id FROM partner_lenders WHERE lender_id = ?)"
    )
    params: list[Any] = [start, end, lender_id]
    if limit is not None:
        sql += " ORDER BY hash(application_id || ?) LIMIT ?"
        params += [str(seed), int(limit)]
    return sql, params


@dataclass
class Sample:
    """A lender's applications in a window: inputs, features, matrix and ground-truth label."""

    cols: dict[str, Any]
    features: dict[str, np.ndarray]
    X: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return int(self.y.shape[0])


def labels(con: Any, application_ids: np.ndarray) -> np.ndarray:
    """ground_truth.bad_if_funded for the ids, in their order (a missing label is an error, not a good)."""
    ids = pa.table({"idx": np.arange(len(application_ids)), "application_id": np.asarray(application_ids, dtype=str)})
    cur = con.cursor()
    try:
        cur.register("__ids", ids)
        res = cur.execute(
            "SELECT i.idx, CAST(g.bad_if_funded AS DOUBLE) AS bad FROM __ids i "
            "LEFT JOIN ground_truth g USING (application_id) ORDER BY i.idx"
        ).fetchnumpy()
    finally:
        cur.close()
    bad = np.ma.filled(np.ma.asarray(res["bad"], dtype=np.float64), np.nan)
    if np.isnan(bad).any():
        raise WarehouseDataError(f"{int(np.isnan(bad).sum())} applications have no ground truth")
    return bad


def load_sample(
    con: Any, lender_id: str, start: dt.date, end: dt.date, *, limit: int | None = None, seed: int = 0,
    with_labels: bool = True,
) -> Sample:
    """Features (through the shared feature module) and labels of a lender's applications in [start, end)."""
    sql, params = _source(lender_id, start, end, limit, seed)
    cols = load_inputs(con, sql, params)
    feats = features_for_rows(con, cols)
    y = labels(con, cols["application_id"]) if with_labels else np.full(len(cols["application_id"]), np.nan)
    return Sample(cols, feats, to_matrix(feats, FEATURE_NAMES), y)


def count_applications(con: Any, lender_id: str, start: dt.date, end: dt.date) -> int:
    sql, params = _source(lender_id, start, end, None, 0)
    return int(con.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0])
