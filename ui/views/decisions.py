"""Decisions page: look up one decision with all lenders' offers for its application, reasons, features, model and
policy versions. Every query goes through the guardrails for the chosen team, so PII follows the team's policy."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import state
from ui.components.messages import show_no_warehouse
from ui.decisions import (
    DecisionLookupError,
    DecisionRefusedError,
    DecisionView,
    can_look_up,
    lookup_decision,
    recent_decision_ids,
)
from ui.monitoring_data import warehouse_status
from ui.settings import get_settings

TTL = get_settings().cache_ttl_s


@st.cache_data(ttl=TTL, show_spinner=False)
def _recent(team: str, replica: str, stamp: int) -> list[str]:
    return recent_decision_ids(state.copilot(), team)


@st.cache_data(ttl=TTL, show_spinner=False)
def _lookup(team: str, decision_id: str, replica: str, stamp: int) -> DecisionView:
    return lookup_decision(state.copilot(), team, decision_id)


def _fmt(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if value.is_integer():
            return f"{value:,.0f}"
        return f"{value:,.4f}" if abs(value) < 1 else f"{value:,.2f}"
    return str(value)


def _show(view: DecisionView, team: str) -> None:
    d = view.decision
    st.subheader(f"Decision {d['decision_id']}")
    cols = st.columns([1.1, 1, 0.8, 0.9, 1.4])
    cols[0].metric("Outcome", str(d.get("decision", "—")).upper(), border=True)
    cols[1].metric("Score (PD)", _fmt(d.get("score")), border=True)
    cols[2].metric("Lender", str(d.get("lender_id", "—")), border=True)
    cols[3].metric("Model version", str(d.get("model_version", "—")), border=True)
    cols[4].metric("Policy version", str(d.get("policy_version", "—")), border=True)
    st.caption(f"Decided {d.get('decided_at')} · application {d.get('application_id')} · partner "
               f"{view.application.get('partner_name', d.get('partner_id'))} · model {d.get('model_id', '—')} · "
               f"fallback used: {d.get('fallback_used')} · features from {d.get('feature_source', '—')} · "
               f"{_fmt(d.get('latency_ms'))} ms")
    reasons = d.get("reason_codes") or []
    st.markdown("**Reasons:** " + (", ".join(f"`{r}`" for r in reasons) if reasons else "none (approved)"))
    st.markdown("**Offers for this application** (every eligible lender)")
    offers = pd.DataFrame(view.offers)
    if "reason_codes" in offers:
        offers["reason_codes"] = offers["reason_codes"].map(lambda r: ", ".join(r) if r else "")
    st.dataframe(offers, hide_index=True)
    left, right = st.columns(2)
    with left:
        st.markdown("**Application**")
        st.dataframe(pd.DataFrame({"field": list(view.application), "value": [_fmt(v) for v in
                                                                            view.application.values()]}),
                     hide_index=True)
        if view.applicant is not None:
            st.markdown("**Applicant**")
            st.dataframe(pd.DataFrame({"field": list(view.applicant),
                                       "value": [_fmt(v) for v in view.applicant.values()]}), hide_index=True)
        if view.masked:
            st.caption(f"🔒 PII masked for team {team} (salted hashes): {', '.join(view.masked)}")
        elif view.hidden_pii:
            st.caption(f"🔒 Team {team} does not see personal data (names, PAN, phone, email, birth date, PIN code).")
    with right:
        st.markdown("**Features used for scoring**")
        if view.features:
            st.dataframe(pd.DataFrame({"feature": list(view.features),
                                       "value": [_fmt(v) for v in view.features.values()]}), hide_index=True,
                         height=560)
        else:
            st.caption(f"The feature vector is outside team {team}'s scope.")


def main() -> None:
    team = state.current_team()
    st.title("Decisions")
    if not can_look_up(team):
        st.info(f"Team **{team}** sees partner- and lender-level aggregates only, not individual decisions. "
                "Use the Monitoring page or ask on the Ask page, e.g. 'approval rate per partner'.",
                icon=":material/lock:")
        return
    status = warehouse_status(state.replica_path())
    if not status.ready:
        show_no_warehouse(status)
        return
    replica, stamp = str(status.replica), status.replica.stat().st_mtime_ns
    recent = _recent(team, replica, stamp)
    with st.form("lookup"):
        cols = st.columns([3, 2])
        typed = cols[0].text_input("Decision ID", key="decision_id", placeholder=recent[0] if recent else "D-…")
        picked = cols[1].selectbox("…or a recent decision", ["", *recent], key="recent_decision")
        submitted = st.form_submit_button("Look up", type="primary")
    decision_id = (typed or picked or "").strip()
    if submitted and not decision_id:
        st.warning("Type a decision ID or pick a recent one.")
        return
    if not decision_id:
        st.caption("Look up a decision to see its offers, reasons, features and versions.")
        return
    try:
        with st.spinner(f"Looking up {decision_id}…"):
            view = _lookup(team, decision_id, replica, stamp)
    except DecisionRefusedError as err:
        st.error(f"The look-up was refused by the guardrails: {err}", icon=":material/shield:")
        return
    except DecisionLookupError as err:
        st.warning(str(err), icon=":material/search:")
        return
    _show(view, team)


main()
