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
from collections.abc import Callable

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
    """Dense array layout ``[day, partner(+all), lender(+all)]`` and its single integer SQL key.

    SQL groups by one integer ``seg = day * (P+1)(L+1) + partner_code * (L+1) + lender_code`` (codes 1-based, 0 for
    an id missing from the partners/lenders tables, which the warehouse contract forbids), which aggregates several
    times faster than grouping by a date and two strings. numpy decodes it; the last index on each axis is 'all'.
    """

    def __init__(self, con: DuckDBPyConnection, first: dt.date, days: int) -> None:
        partners = con.execute("SELECT partner_id, channel_type FROM partners ORDER BY partner_id").fetchall()
        self.partners = [p for p, _ in partners]
        self.lenders = [r[0] for r in con.execute("SELECT lender_id FROM lenders ORDER BY lender_id").fetchall()]
        self.channel = np.array([c for _, c in partners] + [None], dtype=object)
        self.partner_ids = np.array([*self.partners, None], dtype=object)
        self.lender_ids = np.array([*self.lenders, None], dtype=object)
        self.first, self.days = first, days
        self.shape = (days, len(self.partners) + 1, len(self.lenders) + 1)
        self.data_start = first

    def seg_sql(self, alias: str = "d") -> str:
        """SQL expression of the integer segment key of a decision row."""
        n_p, n_l = self.shape[1], self.shape[2]
        plist = "[" + ", ".join(f"'{p}'" for p in self.partners) + "]"
        llist = "[" + ", ".join(f"'{x}'" for x in self.lenders) + "]"
        return (f"((CAST({alias}.decided_at AS DATE) - DATE '{self.first}') * {n_p * n_l} "
                f"+ coalesce(list_position({plist}, {alias}.partner_id), 0) * {n_l} "
                f"+ coalesce(list_position({llist}, {alias}.lender_id), 0))::INTEGER")

    def dense(self, frame: pd.DataFrame, columns: list[str], bins: int | None = None) -> np.ndarray:
        """Scatter ``frame`` (key ``k`` = seg, or seg * bins + bin) into a dense array with 'all' margins filled."""
        shape = self.shape + ((bins,) if bins else ()) + (len(columns),)
        out = np.zeros(shape)
        if len(frame):
            k = frame["k"].to_numpy().astype(np.int64)
            b, seg = (k % bins, k // bins) if bins else (None, k)
            n_p, n_l = self.shape[1], self.shape[2]
            di, pi, li = seg // (n_p * n_l), (seg // n_l) % n_p - 1, seg % n_l - 1
            ok = (pi >= 0) & (li >= 0) & (di >= 0) & (di < self.days)
            idx: tuple = (di[ok], pi[ok], li[ok]) + ((b[ok],) if bins else ())
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
        if not self.parts:
            return pd.DataFrame(columns=["metric_date", "partner_id", "channel_type", "lender_id", "metric", "feature",
                                         "value", "baseline_value", "sample_size", "baseline_size", "baseline_scope"])
        df = pd.concat(self.parts, ignore_index=True)
        df["baseline_value"] = df["baseline_value"].astype("float64").where(df["baseline_value"].notna(), None)
        return df


SLIM = "_monitoring_slim"


def _slim_table(con: DuckDBPyConnection, lay: _Layout, cfg: MonitoringConfig, where: str, params: list) -> None:
    """The one pass over the decision rows: day, segment, outcome flags, latency and every variable's fine bin.

    Fine bins: 0 = NULL/NaN, 1 = exactly zero (zero inflation is read off this bin), 2.. = the grid of
    monitoring.yaml. Putting zero first keeps the bins in value order because every watched variable is >= 0.
    """
    bins = ", ".join(
        f"(CASE WHEN {cfg.sql_expr(v)} IS NULL OR isnan({cfg.sql_expr(v)}) THEN 0 WHEN {cfg.sql_expr(v)} = 0 THEN 1 "
        f"ELSE 2 + least(greatest(floor(({cfg.sql_expr(v)} - {spec.lo}) / {spec.width}), 0), {spec.bins - 1}) "
        f"END)::SMALLINT AS \"b__{v}\"" for v, spec in cfg.variables.items())
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {SLIM} AS
        SELECT {lay.seg_sql()} AS seg,
               (d.decision = 'approve')::TINYINT AS approve, (d.decision = 'refer')::TINYINT AS refer,
               (d.decision = 'decline')::TINYINT AS decline, coalesce(d.fallback_used, false)::TINYINT AS fallback,
               (d.feature_source = 'fallback')::TINYINT AS bureau_error,
               {_latency_bin_sql().replace("latency_ms", "d.latency_ms")} AS lat_bin, {bins}
        FROM decisions d WHERE {where}""", params)


def compute_metrics(con: DuckDBPyConnection, start: dt.date, end: dt.date, cfg: MonitoringConfig,
                    settings: MonitoringSettings, tick: Callable[[], None] | None = None) -> pd.DataFrame:
    """All drift_metrics rows for days ``start..end`` (inclusive), reading ``baseline_days`` of history before.

    ``tick`` is called after each aggregation step (``len(cfg.variables) + 3`` steps) to drive a progress bar.
    """
    tick = tick or (lambda: None)
    window = settings.baseline_days
    first = start - dt.timedelta(days=window)
    days = (end - first).days + 1
    where = "d.decided_at >= ? AND d.decided_at < ?"
    params = [dt.datetime.combine(first, dt.time()), dt.datetime.combine(end + dt.timedelta(days=1), dt.time())]
    lay = _Layout(con, first, days)
    lay.data_start = con.execute("SELECT min(decided_at)::DATE FROM decisions").fetchone()[0] or first
    _slim_table(con, lay, cfg, where, params)
    try:
        tick()
        return _metrics_from_slim(con, lay, cfg, settings, tick)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {SLIM}")


def _metrics_from_slim(con: DuckDBPyConnection, lay: _Layout, cfg: MonitoringConfig,
                       settings: MonitoringSettings, tick: Callable[[], None]) -> pd.DataFrame:
    window, first, days = settings.baseline_days, lay.first, lay.days
    rows = _Rows(lay, out_from=window)
    if not lay.partners:
        return rows.frame()
    stats = con.execute(f"""
        SELECT seg AS k, count(*) AS n, sum(approve) AS approve, sum(refer) AS refer, sum(decline) AS decline,
               sum(fallback) AS fallback, sum(bureau_error) AS bureau_error
        FROM {SLIM} GROUP BY seg""").df()
    count_cols = ["n", *RATES]
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
    tick()
    _latency(con, lay, rows, n, base_n, has_day, window)
    tick()

    for v, spec in cfg.variables.items():
        nb = spec.bins + 2
        hist = con.execute(f'SELECT seg::BIGINT * {nb} + "b__{v}" AS k, count(*) AS c FROM {SLIM} GROUP BY k').df()
        cur = lay.dense(hist, ["c"], bins=nb)[..., 0]
        bhist = _trailing(cur, window)
        miss, zero, bmiss, bzero = cur[..., 0], cur[..., 1], bhist[..., 0], bhist[..., 1]
        rows.add("missing_share", v, _ratio(miss, n), _ratio(bmiss, base_n), n, base_n, has_day)
        rows.add("zero_share", v, _ratio(zero, n - miss), _ratio(bzero, base_n - bmiss), n, base_n, n - miss > 0)
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
        tick()
    df = rows.frame()
    df["computed_at"] = pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None))
    return df


LATENCY_LO_MS, LATENCY_HI_MS, LATENCY_BINS = 0.1, 100_000.0, 1_400
"""Log-spaced latency grid: each bin is ~1% wide, so histogram quantiles are within ~0.5% of the exact value."""
_LOG_STEP = (np.log(LATENCY_HI_MS) - np.log(LATENCY_LO_MS)) / LATENCY_BINS


def _latency_bin_sql() -> str:
    return (f"least(greatest(floor((ln(greatest(latency_ms, {LATENCY_LO_MS})) - {float(np.log(LATENCY_LO_MS))!r}) / "
            f"{float(_LOG_STEP)!r}), 0), {LATENCY_BINS - 1})::SMALLINT")


def _hist_quantiles(h: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """Quantiles from log-spaced histograms (last axis), interpolating linearly in log space within the bin."""
    cum = np.cumsum(h, axis=-1)
    total = cum[..., -1:]
    out = []
    for q in qs:
        target = q * total
        idx = np.minimum((cum < target).sum(axis=-1, keepdims=True), h.shape[-1] - 1)
        below = np.take_along_axis(cum, idx, -1) - np.take_along_axis(h, idx, -1)
        inside = np.take_along_axis(h, idx, -1)
        frac = np.clip((target - below) / np.where(inside > 0, inside, 1), 0, 1)
        log_ms = np.log(LATENCY_LO_MS) + (idx + frac) * _LOG_STEP
        out.append(np.where(total > 0, np.exp(log_ms), np.nan)[..., 0])
    return np.stack(out, axis=-1)


def _latency(con: DuckDBPyConnection, lay: _Layout, rows: _Rows, n: np.ndarray, base_n: np.ndarray,
             has_day: np.ndarray, window: int) -> None:
    """Latency quantiles per segment-day and over the trailing baseline, from log-spaced histograms.

    Quantiles do not add up across segments or days, histograms do: one GROUP BY gives every segment, every day and
    the exact trailing-window baseline (to the grid's ~1% resolution) without re-sorting millions of latencies.
    """
    hist = con.execute(f"SELECT seg::BIGINT * {LATENCY_BINS} + lat_bin AS k, count(*) AS c FROM {SLIM} "
                       "WHERE lat_bin IS NOT NULL GROUP BY k").df()
    cur = lay.dense(hist, ["c"], bins=LATENCY_BINS)[..., 0]
    qs = (0.5, 0.95, 0.99)
    values, base = _hist_quantiles(cur, qs), _hist_quantiles(_trailing(cur, window), qs)
    for i, metric in enumerate(LATENCY):
        rows.add(metric, None, values[..., i], base[..., i], n, base_n, has_day)
