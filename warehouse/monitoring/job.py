"""The daily monitoring job: per partner channel and lender, rates, latency, missing/zero shares and distribution
shift (PSI, KL, JS) of the score and key features against a trailing 30-day baseline.

How it stays fast. DuckDB aggregates the decisions into small count tables (per day x partner x lender, and per fine
histogram bin for every watched variable) - the only pass over the millions of decision rows. numpy then lays those
counts out as dense arrays ``[day, partner(+all), lender(+all), bin]``; the all-partner / all-lender margins are sums,
the trailing baselines are differences of a cumulative sum along the day axis, and the divergences are computed for
every day and segment at once. No Python loop touches a decision row.

A partner whose own baseline is too small (a new channel) is compared with the all-partner baseline of the same lender
and the row says so (``baseline_scope = 'all_partners'``): that is exactly the comparison that shows a new channel
sending a different population.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from duckdb import DuckDBPyConnection

from warehouse.monitoring.config import MonitoringConfig
from warehouse.monitoring.divergence import divergences
from warehouse.monitoring.settings import MonitoringSettings

RATES = {"approve": "approval_rate", "refer": "refer_rate", "decline": "decline_rate", "fallback": "fallback_rate",
         "bureau_error": "bureau_error_rate"}
LATENCY = ("p50_latency_ms", "p95_latency_ms", "p99_latency_ms")


class NoDecisionsError(LookupError):
    """The warehouse holds no decisions in the requested window (run the backfill first)."""


def decision_date_range(con: DuckDBPyConnection) -> tuple[dt.date, dt.date]:
    """First and last day that has decisions."""
    lo, hi = con.execute("SELECT min(decided_at)::DATE, max(decided_at)::DATE FROM decisions").fetchone()
    if lo is None:
        raise NoDecisionsError("the decisions table is empty; run `python -m decision_service backfill` first")
    return lo, hi


class _Layout:
    """Maps (day, partner, lender) keys of SQL result frames onto dense array indices; index -1 = 'all'."""

    def __init__(self, con: DuckDBPyConnection, first: dt.date, days: int, where: str, params: list) -> None:
        known = dict(con.execute("SELECT partner_id, channel_type FROM partners").fetchall())
        seen = con.execute(f"SELECT DISTINCT partner_id, lender_id FROM decisions d WHERE {where}", params).fetchall()
        self.partners = sorted({p for p, _ in seen if p is not None})
        self.lenders = sorted({lid for _, lid in seen if lid is not None})
        self.channel = np.array([known.get(p) for p in self.partners] + [None], dtype=object)
        self.partner_ids = np.array([*self.partners, None], dtype=object)
        self.lender_ids = np.array([*self.lenders, None], dtype=object)
        self.first, self.days = first, days
        self.data_start = con.execute("SELECT min(decided_at)::DATE FROM decisions").fetchone()[0] or first
        self.shape = (days, len(self.partners) + 1, len(self.lenders) + 1)

    def dense(self, frame: pd.DataFrame, columns: list[str], bins: int | None = None) -> np.ndarray:
        """Scatter ``frame`` (columns dday, partner_id, lender_id[, b]) into a dense array with 'all' margins filled."""
        shape = self.shape + ((bins,) if bins else ()) + (len(columns),)
        out = np.zeros(shape)
        if len(frame):
            di = (pd.to_datetime(frame["dday"]) - pd.Timestamp(self.first)).dt.days.to_numpy()
            pi = pd.Categorical(frame["partner_id"], categories=self.partners).codes
            li = pd.Categorical(frame["lender_id"], categories=self.lenders).codes
            ok = (pi >= 0) & (li >= 0) & (di >= 0) & (di < self.days)
            idx: tuple = (di[ok], pi[ok], li[ok])
            if bins:
                idx += (frame["b"].to_numpy()[ok],)
            np.add.at(out, idx, frame[columns].to_numpy(dtype=np.float64)[ok])
        out[:, -1] = out[:, :-1].sum(axis=1)
        out[:, :, -1] = out[:, :, :-1].sum(axis=2)
        return out


def _trailing(x: np.ndarray, window: int) -> np.ndarray:
    """Sum over the ``window`` days strictly before each day (axis 0), from one cumulative sum."""
    c = np.concatenate([np.zeros_like(x[:1]), np.cumsum(x, axis=0)])
    days = np.arange(x.shape[0])
    return c[days] - c[np.maximum(days - window, 0)]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


class _Rows:
    """Accumulates metric arrays into the long drift_metrics frame (vectorised per metric)."""

    def __init__(self, layout: _Layout, out_from: int) -> None:
        self.layout, self.out_from, self.parts = layout, out_from, []
        self.history = np.ones(layout.days, dtype=bool)
        """Days with enough history for a baseline; elsewhere baseline_value is NULL (so no baseline alerts)."""

    def add(self, metric: str, feature: str | None, value: np.ndarray, baseline: np.ndarray | None,
            n: np.ndarray, base_n: np.ndarray, mask: np.ndarray, scope: np.ndarray | None = None) -> None:
        mask = mask.copy()
        mask[: self.out_from] = False
        mask &= np.isfinite(value)
        d, p, lid = np.nonzero(mask)
        lay = self.layout
        self.parts.append(pd.DataFrame({
            "metric_date": pd.to_datetime(lay.first) + pd.to_timedelta(d, unit="D"),
            "partner_id": lay.partner_ids[p], "channel_type": lay.channel[p], "lender_id": lay.lender_ids[lid],
            "metric": metric, "feature": feature, "value": value[mask],
            "baseline_value": np.where(self.history[d], baseline[mask], np.nan) if baseline is not None else np.nan,
            "sample_size": n[mask].astype(np.int64), "baseline_size": base_n[mask].astype(np.int64),
            "baseline_scope": scope[mask] if scope is not None else None,
        }))

    def frame(self) -> pd.DataFrame:
        df = pd.concat(self.parts, ignore_index=True) if self.parts else pd.DataFrame()
        df["baseline_value"] = df["baseline_value"].astype("float64").where(df["baseline_value"].notna(), None)
        return df


def compute_metrics(con: DuckDBPyConnection, start: dt.date, end: dt.date, cfg: MonitoringConfig,
                    settings: MonitoringSettings) -> pd.DataFrame:
    """All drift_metrics rows for days ``start..end`` (inclusive), reading ``baseline_days`` of history before."""
    window = settings.baseline_days
    first = start - dt.timedelta(days=window)
    days = (end - first).days + 1
    where = "d.decided_at >= ? AND d.decided_at < ?"
    params = [dt.datetime.combine(first, dt.time()), dt.datetime.combine(end + dt.timedelta(days=1), dt.time())]
    lay = _Layout(con, first, days, where, params)
    rows = _Rows(lay, out_from=window)
    if not lay.partners:
        return rows.frame()
    keys = "CAST(d.decided_at AS DATE) AS dday, d.partner_id, d.lender_id"
    names = list(cfg.variables)
    var_aggs = ", ".join(
        f"count(*) FILTER (WHERE {cfg.sql_expr(v)} IS NULL OR isnan({cfg.sql_expr(v)})) AS \"miss__{v}\", "
        f"count(*) FILTER (WHERE {cfg.sql_expr(v)} = 0) AS \"zero__{v}\"" for v in names)
    stats = con.execute(f"""
        SELECT {keys}, count(*) AS n,
          count(*) FILTER (WHERE d.decision = 'approve') AS approve,
          count(*) FILTER (WHERE d.decision = 'refer') AS refer,
          count(*) FILTER (WHERE d.decision = 'decline') AS decline,
          count(*) FILTER (WHERE d.fallback_used) AS fallback,
          count(*) FILTER (WHERE d.feature_source = 'fallback') AS bureau_error, {var_aggs}
        FROM decisions d WHERE {where} GROUP BY ALL""", params).df()
    count_cols = ["n", *RATES] + [f"{k}__{v}" for v in names for k in ("miss", "zero")]
    counts = lay.dense(stats, count_cols)
    base = _trailing(counts, window)
    col = {c: i for i, c in enumerate(count_cols)}
    n, base_n = counts[..., col["n"]], base[..., col["n"]]
    has_day = n > 0
    history = np.arange(days) - max((lay.data_start - first).days, 0) >= settings.min_baseline_days
    guard = (n >= settings.min_rows_day) & history[:, None, None]
    rows.history = history

    for key, metric in RATES.items():
        rows.add(metric, None, _ratio(counts[..., col[key]], n), _ratio(base[..., col[key]], base_n), n, base_n,
                 has_day)
    days_in_base = np.minimum(np.arange(days), window)[:, None, None]
    rows.add("decision_count", None, n, _ratio(base_n, days_in_base), n, base_n, has_day)
    parent_n, parent_base = n[:, -1:, :], base_n[:, -1:, :]
    share_mask = has_day.copy()
    share_mask[:, -1] = False
    rows.add("volume_share", None, _ratio(n, parent_n), np.nan_to_num(_ratio(base_n, parent_base)), n,
             np.broadcast_to(parent_base, n.shape), share_mask)

    for v in names:
        miss, zero = counts[..., col[f"miss__{v}"]], counts[..., col[f"zero__{v}"]]
        bmiss, bzero = base[..., col[f"miss__{v}"]], base[..., col[f"zero__{v}"]]
        rows.add("missing_share", v, _ratio(miss, n), _ratio(bmiss, base_n), n, base_n, has_day)
        rows.add("zero_share", v, _ratio(zero, n - miss), _ratio(bzero, base_n - bmiss), n, base_n, n - miss > 0)

    _latency(con, lay, rows, keys, where, params, n, base_n, has_day, window)

    for v in names:
        spec = cfg.variables[v]
        expr = cfg.sql_expr(v)
        hist = con.execute(f"""
            SELECT {keys}, CASE WHEN {expr} IS NULL OR isnan({expr}) THEN 0
                   ELSE 1 + least(greatest(floor(({expr} - {spec.lo}) / {spec.width}), 0), {spec.bins - 1})::INTEGER
                   END AS b, count(*) AS c
            FROM decisions d WHERE {where} GROUP BY ALL""", params).df()
        cur = lay.dense(hist, ["c"], bins=spec.bins + 1)[..., 0]
        bhist = _trailing(cur, window)
        own = bhist.sum(-1) >= settings.min_rows_baseline
        parent = np.broadcast_to(bhist[:, -1:, :, :], bhist.shape)
        use_parent = ~own & (bhist[:, -1:, :, :].sum(-1) >= settings.min_rows_baseline)
        use_parent[:, -1] = False  # the all-partner segment has no parent to borrow from
        reference = np.where(use_parent[..., None], parent, bhist)
        scope = np.where(own, "own", np.where(use_parent, "all_partners", None)).astype(object)
        mask = guard & (own | use_parent)
        ref_n = reference.sum(-1)
        for metric, values in divergences(cur, reference, cfg.coarse_bins, cfg.epsilon).items():
            rows.add(metric, v, values, None, n, ref_n, mask, scope)
    df = rows.frame()
    df["computed_at"] = pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None))
    return df


def _latency(con: DuckDBPyConnection, lay: _Layout, rows: _Rows, keys: str, where: str, params: list,
             n: np.ndarray, base_n: np.ndarray, has_day: np.ndarray, window: int) -> None:
    """Latency quantiles per segment-day (quantiles do not add up, hence GROUPING SETS in SQL).

    The baseline of a latency quantile is the mean of the daily values over the trailing window (documented
    approximation: re-computing an exact 30-day quantile for every day would rescan the window 30 times).
    """
    lat = con.execute(f"""
        SELECT {keys}, GROUPING(d.partner_id) AS gp, GROUPING(d.lender_id) AS gl,
               quantile_cont(d.latency_ms, [0.5, 0.95, 0.99]) AS q
        FROM decisions d WHERE {where} AND d.latency_ms IS NOT NULL
        GROUP BY GROUPING SETS ((dday, d.partner_id, d.lender_id), (dday, d.partner_id), (dday, d.lender_id),
                                (dday))""",
        params).df()
    values = np.full((*lay.shape, 3), np.nan)
    if len(lat):
        di = (pd.to_datetime(lat["dday"]) - pd.Timestamp(lay.first)).dt.days.to_numpy()
        pi = np.where(lat["gp"] == 1, len(lay.partners), pd.Categorical(lat["partner_id"], lay.partners).codes)
        li = np.where(lat["gl"] == 1, len(lay.lenders), pd.Categorical(lat["lender_id"], lay.lenders).codes)
        ok = (pi >= 0) & (li >= 0) & (di >= 0) & (di < lay.days)
        values[di[ok], pi[ok], li[ok]] = np.stack(lat["q"].to_numpy()[ok])
    present = np.isfinite(values)
    base = _ratio(_trailing(np.where(present, values, 0.0), window), _trailing(present.astype(float), window))
    for i, metric in enumerate(LATENCY):
        rows.add(metric, None, values[..., i], base[..., i], n, base_n, has_day)
