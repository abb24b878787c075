"""Log-in page: configured users only; the team choice that follows is limited to the user's own teams."""

from __future__ import annotations

import streamlit as st

from ui import state
from ui.auth import InvalidCredentialsError, UsersFileError, authenticate


def main() -> None:
    st.title("Credit analytics copilot")
    st.caption("Ask the warehouse in plain English, watch the decision engine, look up decisions.")
    try:
        users = state.users()
    except UsersFileError as err:
        st.error(f"**The users file cannot be read.** {err}", icon=":material/warning:")
        return
    with st.form("login", border=True):
        username = st.text_input("User name", key="login_user")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        try:
            user = authenticate(users, username, password)
        except InvalidCredentialsError:
            st.error("Unknown user or wrong password.", icon=":material/lock:")
            return
        state.log_in(user)
        st.rerun()


main()
