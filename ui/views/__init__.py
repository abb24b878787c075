"""Page scripts run by ``st.navigation`` (each file is executed as a script by Streamlit, never imported).

Not called ``pages/``: a ``pages/`` folder next to the entry script switches Streamlit to its legacy multipage mode,
which runs page files without the entry script (no log-in gate, no sidebar) on reruns.
"""
