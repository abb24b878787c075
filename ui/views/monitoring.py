"""Monitoring page: decision rates by partner/lender, latency percentiles, PSI heatmap, open alerts, and the
"why did the approval rate change?" diagnostic between two chosen windows. Read-only on the replica, cached."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.express as px
import streamlit as st

from schema_catalog.teams import team_scope
from ui import state
from ui.components.messages import show_no_warehouse
from ui.monitoring_data import (
    daily_rates,
    default_windows,
    latency_percentiles,
    open_alert_counts,
    open_alerts,
    psi_days,
    psi_matrix,
    warehouse_status,
)
from ui.replica import replica as replica_con
from ui.settings import get_settings
from warehouse.monitoring import METRICS, Diagnosis, Window, diagnose
from warehouse.monitoring.diagnose import EmptyWindowError
from warehouse.monitoring.report import figures

TTL = get_settings().cache_ttl_s


# Cached by replica path and file stamp: a newly published snapshot is a new key, stale entries expire by TTL.
@st.cache_data(ttl=TTL, show_spinner="Computing daily rates…")
def _rates(replica: str, stamp: int, segment: str) -> pd.DataFrame:
    with replica_con(replica) as con:
        return daily_rates(con, segment)


@st.cache_data(ttl=TTL, show_spinner="Computing latency percentiles…")
def _latency(replica: str, stamp: int) -> pd.DataFrame:
    with replica_con(replica) as con:
        return latency_percentiles(con)


@st.cache_data(ttl=TTL, show_spinner=False)
def _psi(replica: str, stamp: int) -> tuple[list[dt.date], dict[dt.date, pd.DataFrame]]:
    with replica_con(replica) as con:
        days = psi_days(con)
        return days, {d: psi_matrix(con, d) for d in days[:14]}


@st.cache_data(ttl=TTL, show_spinner=False)
def _alerts(replica: str, stamp: int) -> tuple[pd.DataFrame, dict[str, int]]:
    with replica_con(replica) as con:
        return open_alerts(con), open_alert_counts(con)


@st.cache_data(ttl=TTL, show_spinner=False)
def _diagnose(replica: str, stamp: int, metric: str, base: Window, cur: Window) -> Diagnosis:
    with replica_con(replica) as con:
        return diagnose(con, metric, base, cur)


def _rates_section(replica: str, stamp: int) -> None:
    segment = st.radio("Break down by", ["partner", "lender"], horizontal=True, key="rates_segment")
    df = _rates(replica, stamp, segment)
    fig = px.line(df, x="day", y="value", color="segment", facet_col="metric", facet_col_wrap=2,
                  hover_data=["decisions"], height=560, template="plotly_white")
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1].replace("_", " ")))
    fig.update_yaxes(tickformat=".0%", matches=None, title=None)
    fig.update_layout(legend_title_text=segment, margin={"t": 40})
    st.plotly_chart(fig, key="rates_chart")
    lat = _latency(replica, stamp)
    fig = px.line(lat, x="day", y=["p50", "p95", "p99"], template="plotly_white", height=320,
                  labels={"value": "latency (ms)", "variable": "percentile"}, title="Decision latency percentiles")
    st.plotly_chart(fig, key="latency_chart")


def _drift_section(replica: str, stamp: int, has_drift: bool) -> None:
    if not has_drift:
        st.info("No drift metrics yet: run `python -m warehouse monitor --publish` to compute PSI and alerts.",
                icon=":material/inbox:")
        return
    days, matrices = _psi(replica, stamp)
    day = st.selectbox("PSI on day", days[:14], key="psi_day", format_func=lambda d: d.isoformat())
    m = matrices.get(day, pd.DataFrame())
    if m.empty:
        st.info(f"No PSI for {day}: segments below the minimum sample size are not scored.")
        return
    fig = px.imshow(m, text_auto=".2f", aspect="auto", color_continuous_scale="RdYlGn_r", zmin=0, zmax=0.3,
                    labels={"color": "PSI", "x": "partner", "y": "feature"},
                    title=f"PSI against the trailing 30-day baseline, {day} (0.10 watch, 0.25 alert)")
    st.plotly_chart(fig, key="psi_heatmap")


def _alerts_section(replica: str, stamp: int) -> None:
    df, counts = _alerts(replica, stamp)
    if df.empty:
        st.success("No open alerts.", icon=":material/check_circle:")
        return
    cols = st.columns(3)
    for col, sev in zip(cols, ["critical", "alert", "watch"], strict=True):
        col.metric(f"{sev} alerts", counts.get(sev, 0), border=True)
    total = sum(counts.values())
    if total > len(df):
        st.caption(f"Showing the {len(df):,} most severe and recent of {total:,} open alerts.")
    st.dataframe(df, hide_index=True, height=320)


def _diagnose_section(replica: str, stamp: int, first: dt.date, last: dt.date) -> None:
    st.caption("Splits the change exactly into partner-mix shift, threshold/policy/model changes, feature shifts "
               "within stable partners, and only then model drift.")
    (b0, b1), (c0, c1) = default_windows(first, last)
    cols = st.columns([1, 2, 2])
    metric: str = cols[0].selectbox("Metric", list(METRICS), key="diag_metric")
    base = cols[1].date_input("Baseline window", (b0, b1), min_value=first, max_value=last, key="diag_base")
    cur = cols[2].date_input("Current window", (c0, c1), min_value=first, max_value=last, key="diag_cur")
    if st.button("Diagnose", key="diagnose", type="primary"):
        if len(base) != 2 or len(cur) != 2:
            st.warning("Pick a start and an end date for both windows.")
            return
        try:
            with st.spinner("Decomposing the change…"):
                st.session_state["diagnosis"] = _diagnose(replica, stamp, metric, Window(*base), Window(*cur))
        except (EmptyWindowError, ValueError, ZeroDivisionError) as err:
            st.session_state.pop("diagnosis", None)
            st.error(f"The diagnostic could not run for these windows: {err}")
            return
    d = st.session_state.get("diagnosis")
    if d is None:
        st.caption("Choose the windows and press Diagnose.")
        return
    st.caption(f"Diagnosis of {d.metric}: baseline {d.baseline}, current {d.current}")
    cols = st.columns(3)
    cols[0].metric(f"{metric} baseline", f"{d.baseline_value:.1%}", border=True)
    cols[1].metric(f"{metric} current", f"{d.current_value:.1%}", f"{d.change * 100:+.2f} pts", border=True)
    cols[2].metric("Top cause", d.top.kind.replace("_", " "), f"{d.top.share_of_change:.0%} of the change",
                   delta_color="off", border=True)
    st.markdown(f"**{d.top.title}.** {d.top.explanation}")
    st.dataframe(pd.DataFrame([{"rank": c.rank, "cause": c.title, "points": round(c.contribution * 100, 2),
                                "share": f"{c.share_of_change:.0%}", "explanation": c.explanation}
                               for c in d.causes]), hide_index=True)
    waterfall, mix, daily, feats = figures(d)
    st.plotly_chart(waterfall, key="diag_waterfall")
    left, right = st.columns(2)
    left.plotly_chart(mix, key="diag_mix")
    right.plotly_chart(feats, key="diag_features")
    st.plotly_chart(daily, key="diag_daily")


def main() -> None:
    team = state.current_team()
    st.title("Monitoring")
    scope = team_scope(team)
    if not (scope.allows_table("drift_metrics") and scope.allows_table("alerts")):
        st.info(f"Monitoring (drift metrics and alerts) is outside the **{team}** team's scope. Ask on the Ask page "
                "instead, e.g. 'approval rate by partner last 30 days'.", icon=":material/lock:")
        return
    status = warehouse_status(state.replica_path())
    if not status.ready:
        show_no_warehouse(status)
        return
    replica, stamp = str(status.replica), status.replica.stat().st_mtime_ns
    st.caption(f"{status.decisions:,} decisions from {status.first_day} to {status.last_day} · replica snapshot, "
               f"cached for {TTL} s")
    rates, drift, alerts, why = st.tabs(["Rates & latency", "Drift (PSI)", "Open alerts", "Why did it change?"])
    with rates:
        _rates_section(replica, stamp)
    with drift:
        _drift_section(replica, stamp, status.drift_rows > 0)
    with alerts:
        if status.drift_rows:
            _alerts_section(replica, stamp)
        else:
            st.info("No alerts yet: run `python -m warehouse monitor --publish`.", icon=":material/inbox:")
    with why:
        _diagnose_section(replica, stamp, status.first_day, status.last_day)  # type: ignore[arg-type]


main()
