"""Friendly messages: problems with an answer, and empty states that name the command that fixes them."""

from __future__ import annotations

import streamlit as st

from ui.monitoring_data import BUILD_HINT, WarehouseStatus
from ui.sql_runner import Problem


def show_problem(problem: Problem, examples: list[str] | None = None) -> None:
    """A blocked query is an error, a timeout or an unanswerable question a warning; each says what to try."""
    box = st.error if problem.kind in ("blocked", "engine_error") else st.warning
    icon = {"blocked": ":material/shield:", "timeout": ":material/timer:", "engine_error": ":material/warning:",
            "unavailable": ":material/power_off:"}.get(problem.kind, ":material/help:")
    text = f"**{problem.title}**\n\n{problem.detail}"
    if problem.hint and problem.hint not in problem.detail:
        text += f"\n\n*Hint:* {problem.hint}"
    box(text, icon=icon)
    suggestion = problem.suggestion
    if examples:
        suggestion += "\n\nFor example: " + "; ".join(f"*{q}*" for q in examples[:3])
    st.info(suggestion, icon=":material/lightbulb:")


def show_no_warehouse(status: WarehouseStatus) -> None:
    """Empty state when the replica is missing, unreadable or has no decisions."""
    if not status.exists:
        st.info(f"**No warehouse yet.** There is no replica at `{status.replica}`.\n\nBuild it with {BUILD_HINT}.",
                icon=":material/construction:")
    elif status.error:
        st.error(f"**The warehouse replica could not be read** (`{status.replica}`): {status.error}\n\n"
                 f"Rebuild or republish it with {BUILD_HINT}.", icon=":material/warning:")
    else:
        st.info("**The warehouse has no decisions yet.** Run `python -m decision_service backfill` (and "
                "`python -m warehouse monitor --publish` for drift and alerts).", icon=":material/inbox:")
