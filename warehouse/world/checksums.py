"""Content checksums of warehouse tables, independent of physical row order.

Used by the determinism tests and by ``python -m warehouse info``: two worlds built from the same parameters must
agree table by table. ``sum(hash(row))`` is order-independent and, unlike XOR, does not cancel duplicate rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from warehouse.world.generator import WORLD_TABLES


def table_checksums(con: duckdb.DuckDBPyConnection, tables: Iterable[str] = WORLD_TABLES) -> dict[str, str]:
    """``{table: "<rows>:<sum of row hashes>"}`` for each table (world_runs excluded: it holds a timestamp)."""
    out = {}
    for table in tables:
        count, total = con.execute(f"SELECT count(*), sum(hash(t)) FROM {table} t").fetchone()
        out[table] = f"{count}:{total}"
    return out
