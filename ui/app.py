"""The analyst app: ``streamlit run ui/app.py``.

Log-in first; then a sidebar bound to the user's teams and three pages — Ask (the copilot), Monitoring (decision
engine health, drift, alerts, "why did the approval rate change?") and Decisions (look-up with PII per team policy).
Pages are scripts in ``ui/views/`` registered with ``st.navigation``; logic lives in importable modules next to them.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run ui/app.py` puts only ui/ on the path when not installed editable
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from ui import state  # noqa: E402
from ui.monitoring_data import warehouse_status  # noqa: E402

VIEWS = Path(__file__).resolve().parent / "views"  # not "pages/": that name switches Streamlit to its legacy MPA


def sidebar() -> None:
    user = state.current_user()
    assert user is not None
    with st.sidebar:
        st.markdown(f"**{user.display_name}**  \n`{user.username}`")
        st.selectbox("Team", user.teams, key=state.TEAM_KEY, disabled=len(user.teams) == 1,
                     help="You can only work as one of your own teams; it sets what data you can see.")
        status = warehouse_status(state.replica_path())
        if status.ready:
            st.caption(f"Replica: {status.decisions:,} decisions, {status.first_day} → {status.last_day}")
        else:
            st.caption("Replica: not built yet")
        if st.button("Log out", key="logout"):
            state.log_out()
            st.rerun()


def main() -> None:
    st.set_page_config(page_title="Credit analytics copilot", page_icon=":material/bar_chart:", layout="wide")
    if state.current_user() is None:
        page = st.navigation([st.Page(VIEWS / "login.py", title="Log in", icon=":material/login:")], position="hidden")
    else:
        sidebar()
        page = st.navigation([
            st.Page(VIEWS / "ask.py", title="Ask", icon=":material/chat:", default=True),
            st.Page(VIEWS / "monitoring.py", title="Monitoring", icon=":material/monitoring:"),
            st.Page(VIEWS / "decisions.py", title="Decisions", icon=":material/search:"),
        ])
    page.run()


main()
