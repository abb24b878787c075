"""The result table: one page of up to 10,000 rows, page navigation and a CSV download of the page shown."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from copilot.models import RowsPage


def rows_frame(rows: RowsPage) -> pd.DataFrame:
    return pd.DataFrame(rows.rows, columns=rows.columns)


def show_table(rows: RowsPage, key: str, on_page: Callable[[int], None] | None = None) -> None:
    """Table of the current page; Previous/Next fetch another page through ``on_page`` (the guardrail path)."""
    df = rows_frame(rows)
    first = rows.page * rows.page_size
    more = " (more pages)" if rows.has_more else ""
    st.caption(f"Rows {first + 1:,}–{first + len(df):,}{more} · page {rows.page + 1} · {rows.page_size:,} rows per page"
               if len(df) else "The query returned no rows.")
    percent = {c: st.column_config.NumberColumn(c, format="percent") for c in df.columns
               if c.endswith(("_rate", "_share")) and pd.api.types.is_float_dtype(df[c])}
    st.dataframe(df, hide_index=True, height=min(420, 38 + 35 * max(len(df), 1)), column_config=percent)
    cols = st.columns([1, 1, 3])
    if on_page is not None and (rows.page > 0 or rows.has_more):
        if cols[0].button("Previous page", icon=":material/chevron_left:", key=f"prev_{key}", disabled=rows.page == 0):
            on_page(rows.page - 1)
        if cols[1].button("Next page", icon=":material/chevron_right:", key=f"next_{key}", disabled=not rows.has_more):
            on_page(rows.page + 1)
    cols[2].download_button("Download CSV", df.to_csv(index=False).encode(), file_name=f"result-{key}-p"
                            f"{rows.page + 1}.csv", mime="text/csv", key=f"csv_{key}", icon=":material/download:",
                            help="CSV of the rows on this page (masked values stay masked)")
