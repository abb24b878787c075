"""Read-only connections to the replica for the dashboards, robust to the copilot's hardened connection.

DuckDB keeps one database instance per file per process. Once the copilot's guardrail executor has opened the
replica it runs ``SET lock_configuration = true`` on that shared instance, after which
``warehouse.db.connect_reader`` (which sets ``memory_limit``) fails in the same process with "the configuration has
been locked". The instance is then already read-only, memory-limited and sandboxed, so a plain read-only connection
to it is the correct fallback — not a way around the hardening.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from warehouse.db import connect_reader


def connect_replica(path: Path | str) -> duckdb.DuckDBPyConnection:
    """``connect_reader(path)``, or a plain read-only connection when the shared instance is already locked."""
    try:
        return connect_reader(path)
    except duckdb.InvalidInputException as err:
        if "locked" not in str(err):
            raise
        return duckdb.connect(str(path), read_only=True)


@contextmanager
def replica(path: Path | str) -> Iterator[duckdb.DuckDBPyConnection]:
    """Context manager around :func:`connect_replica` that always closes the connection."""
    con = connect_replica(path)
    try:
        yield con
    finally:
        con.close()
