"""Render one answer of the Ask page: caption, KPI or chart, table, editable SQL with Run/verify/correct, details.

Actions (Run edited SQL, next page, verify, correct) mutate the session's history and rerun, so the page always
re-renders from state; every SQL they run goes through ``ui.sql_runner.run_sql`` (the guardrails), never around it.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from copilot.captions import fmt_value
from copilot.errors import FeedbackError
from copilot.feedback import accept, correct
from ui import state
from ui.components.messages import show_problem
from ui.components.results import show_table
from ui.sql_runner import describe_problem, run_sql


def _kpi(turn: state.Turn) -> None:
    rows = turn.answer.rows
    assert rows is not None
    name, value = rows.columns[0], rows.rows[0][0]
    label = name.replace("_", " ").capitalize()
    shown = fmt_value(value, name) if not (isinstance(value, float) and math.isnan(value)) else "n/a"
    st.metric(label, shown, border=True, help=turn.answer.question)


def _run_edited(turn: state.Turn, team: str, user: str, sql: str) -> None:
    with st.spinner("Checking the SQL with the guardrails and running it…"):
        answer = run_sql(state.copilot(), sql, team, user, question=turn.question)
    state.add_turn(team, f"Edited SQL — {turn.question}", answer, kind="sql")
    st.rerun()


def _goto_page(turn: state.Turn, team: str, user: str, page: int) -> None:
    with st.spinner(f"Fetching page {page + 1}…"):
        answer = run_sql(state.copilot(), turn.answer.sql or "", team, user, question=turn.question, page=page)
    if answer.rows is None:
        turn.notices.append(("error", f"Page {page + 1} could not be fetched: {answer.reason}"))
    else:
        turn.answer.rows, turn.page = answer.rows, page
    st.rerun()


def _feedback(turn: state.Turn, user: str, sql: str) -> None:
    cols = st.columns([1, 1, 2])
    if cols[0].button("Verify", icon=":material/thumb_up:", key=f"verify_{turn.id}",
                      help="Store this question and SQL as a verified query",
                      disabled=turn.answer.rows is None):
        try:
            with st.spinner("Re-validating and storing…"):
                record = accept(state.copilot(), turn.answer, user)
            turn.notices.append(("success", f"Saved as a verified query ({record.query_id}); retrieval will use it."))
        except FeedbackError as err:
            turn.notices.append(("error", f"Not saved: {err.message}"))
        st.rerun()
    if cols[1].button("Correct", icon=":material/edit:", key=f"correct_{turn.id}",
                      help="Store the SQL in the editor as the correct answer (a candidate for review)"):
        try:
            with st.spinner("Validating the corrected SQL…"):
                record, _ = correct(state.copilot(), turn.answer, sql, user)
            turn.notices.append(("success", f"Correction stored as a candidate for review ({record.query_id})."))
        except FeedbackError as err:
            turn.notices.append(("error", f"Correction refused: {err.message}"))
        st.rerun()


def show_answer(turn: state.Turn, team: str, user: str, examples: list[str]) -> None:
    """Everything about one turn, inside the assistant's chat message."""
    a = turn.answer
    problem = describe_problem(a)
    if problem is not None:
        show_problem(problem, examples)
    else:
        if a.caption:
            st.markdown(f"**{a.caption}**")
        if a.chart_type == "kpi":
            _kpi(turn)
        elif a.chart:
            st.plotly_chart(go.Figure(a.chart), key=f"chart_{turn.id}")
    for level, text in turn.notices:
        getattr(st, level)(text)
    if a.rows is not None:
        show_table(a.rows, key=str(turn.id), on_page=lambda p: _goto_page(turn, team, user, p))
    if a.sql or turn.kind == "sql":
        with st.expander("SQL — edit and run", expanded=problem is not None and turn.kind == "sql"):
            sql = st.text_area("SQL", value=a.sql or "", key=f"sql_{turn.id}", height=180,
                               help="Edits run through the same guardrails as the copilot's own SQL.")
            if st.button("Run", icon=":material/play_arrow:", key=f"run_{turn.id}", type="primary"):
                _run_edited(turn, team, user, sql)
            if turn.kind == "copilot" or a.rows is not None:
                _feedback(turn, user, sql)
    _details(turn)


def _details(turn: state.Turn) -> None:
    a = turn.answer
    meta = [f"{a.timings.get('total', 0):,.0f} ms"]
    if a.backend:
        meta.append(f"backend {a.backend}")
    if a.confidence and a.backend != "analyst":
        meta.append(f"confidence {a.confidence:.2f}")
    if a.anchor_date:
        meta.append(f"'today' = {a.anchor_date}")
    if a.validation and a.validation.get("masked_columns"):
        meta.append("masked: " + ", ".join(a.validation["masked_columns"]))
    st.caption(" · ".join(meta))
    if a.explanation:
        with st.expander("Explanation"):
            st.markdown(a.explanation)
            if a.plan is not None:
                st.json(a.plan.model_dump(mode="json", exclude_defaults=True), expanded=False)
    if a.retrieved:
        with st.expander("Retrieved context"):
            if "unavailable" in a.retrieved:
                st.caption(f"Retrieval index unavailable ({a.retrieved['unavailable']}); the planner used the "
                           "team's catalog slice.")
            shown = {k: v for k, v in a.retrieved.items() if v and k not in ("unavailable", "metric_scores")}
            st.json(shown, expanded=False)
    with st.expander("Timings and attempts"):
        stages = {k: v for k, v in a.timings.items() if k != "total"}
        if stages:
            st.dataframe(pd.DataFrame({"stage": list(stages), "ms": list(stages.values())}), hide_index=True)
        st.dataframe(pd.DataFrame([{"backend": t.backend, "outcome": t.outcome, "confidence": t.confidence,
                                    "ms": t.ms, "error": (t.error or {}).get("message") or (t.error or {}).get("notes")}
                                   for t in a.attempts]), hide_index=True)
