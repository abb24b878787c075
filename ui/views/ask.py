"""Ask page: example questions for the team, a chat-like history of answers, follow-ups, edited SQL runs."""

from __future__ import annotations

import streamlit as st

from copilot.errors import BackendUnavailableError, CopilotError, InvalidQuestionError
from ui import state
from ui.components.answer import show_answer
from ui.components.messages import show_no_warehouse
from ui.examples import example_questions
from ui.monitoring_data import warehouse_status
from ui.settings import get_settings

PENDING = "pending_question"


def _ask(team: str, question: str) -> bool:
    """Ask the copilot (a follow-up of the team's conversation) and add the answer to the history; False when the
    question itself was unusable (the message stays on screen)."""
    conv = state.conversation(team)
    try:
        with st.status("Answering…", expanded=False) as status:
            status.update(label="Retrieving context, planning, validating and running the SQL…")
            answer = conv.ask(question)
            status.update(label=f"Answered in {answer.timings.get('total', 0):,.0f} ms", state="complete")
    except InvalidQuestionError as err:
        st.warning(f"{err.message}", icon=":material/edit_note:")
        return False
    except BackendUnavailableError as err:
        st.error(f"**The copilot is unavailable.** {err.message}", icon=":material/power_off:")
        return False
    except CopilotError as err:
        st.error(f"**The copilot could not answer** ({err.code}): {err.message}", icon=":material/warning:")
        return False
    del conv.history[: max(0, len(conv.history) - get_settings().history_limit)]
    state.add_turn(team, question, answer)
    return True


def main() -> None:
    user, team = state.current_user(), state.current_team()
    assert user is not None
    st.title("Ask")
    st.caption(f"Answers use the **{team}** team's data only. Follow-ups refine the last answer "
               "(\"and by lender?\", \"only last week\").")
    status = warehouse_status(state.replica_path())
    if not status.exists or status.error:
        show_no_warehouse(status)
        return
    examples = example_questions(team, get_settings().example_count)
    if examples:
        st.markdown("**Try:**")
        cols = st.columns(min(3, len(examples)))
        for i, q in enumerate(examples):
            if cols[i % len(cols)].button(q, key=f"example_{i}", width="stretch"):
                st.session_state[PENDING] = q
    history = state.turns(team)
    if history and st.button("New conversation", icon=":material/restart_alt:", key="new_conversation"):
        state.reset_conversation(team)
        st.rerun()
    for turn in history:
        with st.chat_message("user"):
            st.markdown(turn.question)
        with st.chat_message("assistant"):
            show_answer(turn, team, user.username, examples)
    question = st.chat_input("Ask a question about your team's data…", key="question")
    question = question or st.session_state.pop(PENDING, None)
    if question:
        with st.chat_message("user"):
            st.markdown(question)
        with st.chat_message("assistant"):
            answered = _ask(team, question)
        if answered:
            st.rerun()


main()
