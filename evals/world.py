"""Identify the world a run was scored on, so baselines and scoreboards are never compared across worlds."""

from __future__ import annotations

from pathlib import Path

import duckdb

from warehouse.db import connect_reader


def world_info(replica: Path | str) -> dict[str, object]:
    """Generation parameters (from ``world_runs``), decision count and as-of date of a replica, read-only."""
    con = connect_reader(replica)
    try:
        info: dict[str, object] = {"replica": str(replica)}
        try:
            row = con.execute("SELECT seed, days, per_day, start_date, scenario FROM world_runs "
                              "ORDER BY created_at DESC LIMIT 1").fetchone()
        except duckdb.Error:
            row = None
        if row is not None:
            info.update(seed=row[0], days=row[1], per_day=row[2], start_date=str(row[3]), scenario=row[4] or "")
        info["decisions"] = con.execute("SELECT count(*) FROM decisions").fetchone()[0]
        as_of = con.execute("SELECT max(decided_at)::DATE FROM decisions").fetchone()[0]
        info["as_of"] = str(as_of) if as_of is not None else None
        return info
    finally:
        con.close()


def fingerprint(info: dict[str, object]) -> str:
    """A stable key for a world kind: generator parameters, not the file path or the decision count."""
    return f"seed={info.get('seed')},days={info.get('days')},per_day={info.get('per_day')}," \
           f"scenario={info.get('scenario', '')}"
