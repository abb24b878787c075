""""Today" for relative dates: the latest decision in the replica, not the wall clock.

The world is simulated: its calendar ends wherever the generator stopped, so "yesterday" by the wall clock would
usually be a day without data. The anchor is ``max(decided_at)`` (``max(received_at)`` while decisions are empty),
cached per replica file and modification time, and ``CREDIT_COPILOT_TODAY`` overrides it.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import duckdb

from copilot.settings import get_settings

_cache: dict[tuple[str, float], dt.date] = {}
_lock = threading.Lock()


def data_today(con: duckdb.DuckDBPyConnection, replica: Path | None = None) -> dt.date:
    """The anchor date for ``con`` (the replica it reads)."""
    override = get_settings().today
    if override is not None:
        return override
    key = (str(replica), replica.stat().st_mtime if replica and replica.exists() else 0.0)
    with _lock:
        if key in _cache:
            return _cache[key]
    latest = None
    for sql in ("SELECT max(decided_at) FROM decisions", "SELECT max(received_at) FROM applications"):
        try:
            latest = con.execute(sql).fetchone()[0]
        except duckdb.Error:
            latest = None
        if latest is not None:
            break
    day = latest.date() if isinstance(latest, dt.datetime) else latest or dt.date.today()
    with _lock:
        _cache[key] = day
    return day
