"""Typed access to the warehouse: one writer, read-only connections for everyone else.

DuckDB lets one process write a file, and while it holds the file no other process can open it, not even read-only.
So the product has exactly one writer per file (the generator, the backfill or the decision-log loader) and everyone
else reads the *replica*: a snapshot the writer publishes atomically with :func:`publish_replica`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from warehouse.migrations import migrate
from warehouse.rollups import build_rollups, materialize_views
from warehouse.settings import get_settings


def _configure(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Apply the warehouse settings, unless the database instance is already hardened.

    DuckDB shares one database instance between all connections to a file in a process; once the guardrails'
    sandbox has locked that instance's configuration, a later reader must take the locked (stricter) settings as they
    are rather than fail.
    """
    try:
        con.execute(f"SET memory_limit = '{get_settings().memory_limit}'")
    except duckdb.InvalidInputException as exc:
        if "lock" not in str(exc).lower():
            raise
    return con


def connect_writer(path: Path | str | None = None) -> duckdb.DuckDBPyConnection:
    """Open the writable warehouse (creating and migrating it as needed)."""
    path = Path(path or get_settings().path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _configure(duckdb.connect(str(path)))
    migrate(con)
    return con


def connect_reader(path: Path | str | None = None) -> duckdb.DuckDBPyConnection:
    """Open a read-only connection, by default on the replica."""
    path = Path(path or get_settings().replica_path)
    if not path.exists():
        raise FileNotFoundError(
            f"warehouse file {path} does not exist; run `make run` or `python -m warehouse generate`"
        )
    return _configure(duckdb.connect(str(path), read_only=True))


@contextmanager
def writer(path: Path | str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Context manager around :func:`connect_writer` that always closes the file."""
    con = connect_writer(path)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def reader(path: Path | str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Context manager around :func:`connect_reader`."""
    con = connect_reader(path)
    try:
        yield con
    finally:
        con.close()


def _remove_stale_snapshots(replica: Path) -> None:
    """Delete snapshot files left by publishers that were killed mid-copy (their pid no longer runs).

    Each publisher names its snapshot by its pid, so a killed one's file would otherwise stay forever (half a
    replica's size: 0.5 GB seen on the full world after a SIGTERM'd ``make run``). A live publisher's file is kept.
    """
    for path in replica.parent.glob(f".{replica.name}.*.tmp"):
        try:
            pid = int(path.name.removeprefix(f".{replica.name}.").removesuffix(".tmp"))
        except ValueError:
            continue
        if pid != os.getpid() and not pid_alive(pid):
            path.unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs (one we may not signal counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def publish_replica(con: duckdb.DuckDBPyConnection, replica_path: Path | str | None = None) -> Path:
    """Copy the writer's database into a new snapshot file and atomically swap it in as the replica.

    Readers that already have the old replica open keep reading it (the old inode lives until they close); new
    readers see the new snapshot. A crash mid-copy leaves only a temporary file behind, never a half replica.
    """
    replica = Path(replica_path or get_settings().replica_path)
    replica.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_snapshots(replica)
    tmp = replica.with_name(f".{replica.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    con.execute(f"ATTACH '{tmp}' AS __snapshot")
    try:
        db_name = con.execute("SELECT current_database()").fetchone()[0]
        con.execute(f'COPY FROM DATABASE "{db_name}" TO __snapshot')
        build_rollups(con, "__snapshot")  # pre-aggregates of the snapshot's own facts (see warehouse/rollups.py)
        materialize_views(con, "__snapshot")
    finally:
        con.execute("DETACH __snapshot")
    os.replace(tmp, replica)
    return replica
