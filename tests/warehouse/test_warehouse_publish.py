"""Publishing the read-only replica: a snapshot swapped in atomically, and no debris from killed publishers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from warehouse.db import publish_replica


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped), so it no longer runs."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_publish_removes_snapshots_of_dead_publishers_and_keeps_live_ones(tmp_path: Path) -> None:
    replica = tmp_path / "replica.duckdb"
    dead = tmp_path / f".replica.duckdb.{_dead_pid()}.tmp"
    live = tmp_path / f".replica.duckdb.{os.getppid()}.tmp"  # the test runner's parent: alive
    other = tmp_path / ".other.duckdb.1.tmp"  # another file's snapshot: not ours to judge
    for path in (dead, live, other):
        path.write_bytes(b"half a snapshot")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        con.execute("CREATE TABLE t AS SELECT 42 AS x")
        assert publish_replica(con, replica) == replica
    finally:
        con.close()
    assert not dead.exists()
    assert live.exists() and other.exists()
    ro = duckdb.connect(str(replica), read_only=True)
    try:
        assert ro.execute("SELECT x FROM t").fetchall() == [(42,)]
    finally:
        ro.close()
    assert not list(tmp_path.glob(f".replica.duckdb.{os.getpid()}.tmp"))  # its own snapshot was swapped in
