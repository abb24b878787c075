"""Reusable Streamlit rendering pieces (answers, result tables, messages)."""
