"""Session state and shared resources of the app: the logged-in user, the chosen team, the copilot, the replica.

The team is bound to the login: the sidebar offers only the user's own teams, and every page reads the team from
here (never from a free widget), so a user cannot reach another team's scope by editing the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from copilot.conversation import Conversation
from copilot.models import Answer
from copilot.pipeline import Copilot
from copilot.settings import get_settings as copilot_settings
from ui.auth import User, load_users
from ui.settings import get_settings
from warehouse.settings import get_settings as warehouse_settings

USER_KEY, TEAM_KEY, TURNS_KEY, CONV_KEY = "user", "team", "turns", "conversations"


@dataclass
class Turn:
    """One exchange in the Ask page's history: the question and the answer (copilot's or an edited SQL run)."""

    id: int
    question: str
    answer: Answer
    kind: str = "copilot"  # copilot | sql
    page: int = 0
    notices: list[tuple[str, str]] = field(default_factory=list)  # (level, text) shown under the answer


def replica_path() -> Path:
    """The replica the copilot reads (copilot setting, else the warehouse's)."""
    return Path(copilot_settings().replica_path or warehouse_settings().replica_path)


def _close(copilot: Copilot) -> None:
    copilot.close()


# Closed on release (the copilot's replica connection is shared per process and file by copilot.guard, so this only
# matters for per-instance resources a future copilot may hold).
@st.cache_resource(show_spinner="Starting the copilot…", on_release=_close)
def _copilot(replica: str, use_retrieval: bool) -> Copilot:
    return Copilot(replica=replica, use_retrieval=use_retrieval)


def copilot() -> Copilot:
    """One copilot per process and replica (thread-safe: it serialises queries on its own lock)."""
    return _copilot(str(replica_path()), get_settings().use_retrieval)


@st.cache_resource
def _users(path: str, mtime_ns: int) -> dict[str, User]:
    return load_users(Path(path))


def users() -> dict[str, User]:
    """The configured users (re-read when the file changes)."""
    path = get_settings().users_path
    return _users(str(path), path.stat().st_mtime_ns if path.exists() else 0)


def current_user() -> User | None:
    return st.session_state.get(USER_KEY)


def log_in(user: User) -> None:
    st.session_state[USER_KEY] = user
    st.session_state[TEAM_KEY] = user.teams[0]


def log_out() -> None:
    for key in (USER_KEY, TEAM_KEY, TURNS_KEY, CONV_KEY):
        st.session_state.pop(key, None)


def current_team() -> str:
    """The chosen team, always one of the logged-in user's teams."""
    user = current_user()
    if user is None:
        raise RuntimeError("no user is logged in")
    team = st.session_state.get(TEAM_KEY)
    return user.require_team(team) if team in user.teams else user.teams[0]


def turns(team: str) -> list[Turn]:
    """The team's chat history in this session."""
    return st.session_state.setdefault(TURNS_KEY, {}).setdefault(team, [])


def conversation(team: str) -> Conversation:
    """The copilot conversation of this session and team (keeps the last plan for follow-ups)."""
    user = current_user()
    convs = st.session_state.setdefault(CONV_KEY, {})
    if team not in convs:
        convs[team] = Conversation(copilot(), team, user.username if user else "anonymous")
    return convs[team]


def add_turn(team: str, question: str, answer: Answer, kind: str = "copilot") -> Turn:
    history = turns(team)
    next_id = st.session_state.get("_turn_seq", 0) + 1
    st.session_state["_turn_seq"] = next_id
    turn = Turn(next_id, question, answer, kind)
    history.append(turn)
    del history[: max(0, len(history) - get_settings().history_limit)]
    return turn


def reset_conversation(team: str) -> None:
    st.session_state.get(TURNS_KEY, {}).pop(team, None)
    st.session_state.get(CONV_KEY, {}).pop(team, None)
