"""The single loader: moves outbox records into the warehouse exactly once and publishes the read-only replica.

Exactly once = at-least-once delivery from the fsync'd outbox + idempotent upserts keyed by primary key
(``INSERT OR IGNORE``: decision_id, application_id, report_id, applicant_id). The checkpoint (segment -> byte offset)
is written only after the warehouse transaction commits; a crash between the two re-reads a few records whose rows
are already there and are ignored. Fully loaded, finished segments move to ``archive/`` (the API replays them at
start-up to rebuild its idempotency index) and are pruned after the idempotency TTL.

It is the only process that holds the warehouse writer while the service runs; readers use the replica, republished
at most every ``replica_publish_interval_s`` so the copilot's view lags the decisions by about that much.

Run: ``python -m decision_service.decision_log.loader [--once]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from decision_service.decision_log.outbox import ARCHIVE_DIR, iter_records, list_segments, segment_done
from decision_service.settings import get_settings

log = logging.getLogger(__name__)

CHECKPOINT = "loader_checkpoint.json"

# table -> primary key; order matters only for readability (no foreign keys are enforced)
_TABLES: tuple[tuple[str, str, str], ...] = (
    ("applicant", "applicants", "applicant_id"),
    ("application", "applications", "application_id"),
    ("bureau_report", "bureau_reports", "report_id"),
)


def _read_checkpoint(directory: Path) -> dict[str, int]:
    path = directory / CHECKPOINT
    return orjson.loads(path.read_bytes()) if path.exists() else {}


def _write_checkpoint(directory: Path, ckpt: dict[str, int]) -> None:
    tmp = directory / f".{CHECKPOINT}.tmp"
    with open(tmp, "wb") as f:
        f.write(orjson.dumps(ckpt))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, directory / CHECKPOINT)


def _insert(con: duckdb.DuckDBPyConnection, table: str, key: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    unique = list({r[key]: r for r in rows}.values())
    con.register("__outbox_rows", pa.Table.from_pylist(unique))
    try:
        cols = ", ".join(f'"{c}"' for c in unique[0])
        con.execute(f"INSERT OR IGNORE INTO {table} ({cols}) SELECT {cols} FROM __outbox_rows")
    finally:
        con.unregister("__outbox_rows")


def load_records(con: duckdb.DuckDBPyConnection, records: list[dict[str, Any]]) -> int:
    """Upsert a batch of outbox records in one transaction; returns the number of decision rows offered."""
    buckets: dict[str, list[dict[str, Any]]] = {t: [] for _, t, _ in _TABLES}
    decisions: list[dict[str, Any]] = []
    for rec in records:
        for field, table, _ in _TABLES:
            row = rec.get(field)
            if row:
                buckets[table].append(row)
        decisions.extend(rec.get("decisions") or [])
    con.execute("BEGIN TRANSACTION")
    try:
        for _, table, key in _TABLES:
            _insert(con, table, key, buckets[table])
        _insert(con, "decisions", "decision_id", decisions)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(decisions)


class Loader:
    """Poll the outbox, load new records, archive finished segments, publish the replica on a schedule."""

    def __init__(self, con: duckdb.DuckDBPyConnection, outbox_dir: Path, *, replica_path: Path | None,
                 publish_interval_s: float, archive_ttl_s: float) -> None:
        self.con = con
        self.dir = Path(outbox_dir)
        self.replica_path = replica_path
        self.publish_interval_s = publish_interval_s
        self.archive_ttl_s = archive_ttl_s
        self._dirty = False
        self._last_publish = 0.0
        self.loaded_total = 0

    def run_once(self) -> int:
        """Load every complete record not loaded yet; returns the number of decision rows offered."""
        self.dir.mkdir(parents=True, exist_ok=True)
        ckpt = _read_checkpoint(self.dir)
        batch: list[dict[str, Any]] = []
        new_ckpt = dict(ckpt)
        finished: list[Path] = []
        for seg in list_segments(self.dir):
            done = segment_done(seg)  # decide before reading: a live writer may still append after we read
            offset = ckpt.get(seg.name, 0)
            for end, rec in iter_records(seg, offset):
                batch.append(rec)
                offset = end
            new_ckpt[seg.name] = offset
            if done:
                finished.append(seg)
        n = load_records(self.con, batch) if batch else 0
        if batch:
            self._dirty = True
            self.loaded_total += n
        for seg in finished:
            new_ckpt.pop(seg.name, None)
        _write_checkpoint(self.dir, new_ckpt)
        archive = self.dir / ARCHIVE_DIR
        archive.mkdir(exist_ok=True)
        for seg in finished:
            os.replace(seg, archive / seg.name)
            seg.with_suffix(".done").unlink(missing_ok=True)
        self._prune_archive(archive)
        return n

    def _prune_archive(self, archive: Path) -> None:
        cutoff = time.time() - self.archive_ttl_s
        for seg in archive.glob("seg-*.jsonl"):
            if seg.stat().st_mtime < cutoff:
                seg.unlink(missing_ok=True)

    def maybe_publish(self, *, force: bool = False) -> bool:
        """Publish the replica when something changed and the interval has passed (or ``force``)."""
        if self.replica_path is None or not self._dirty:
            return False
        if not force and time.monotonic() - self._last_publish < self.publish_interval_s:
            return False
        from warehouse.db import publish_replica

        publish_replica(self.con, self.replica_path)
        self._dirty = False
        self._last_publish = time.monotonic()
        log.info("replica published", extra={"replica": str(self.replica_path)})
        return True

    def run_forever(self, stop: threading.Event, poll_s: float) -> None:
        while not stop.is_set():
            try:
                n = self.run_once()
                if n:
                    log.info("decisions loaded", extra={"rows": n, "total": self.loaded_total})
                self.maybe_publish()
            except Exception:
                log.exception("loader iteration failed; retrying")
            stop.wait(poll_s)
        self.run_once()
        self.maybe_publish(force=True)


def main(argv: list[str] | None = None) -> None:
    from decision_service.observability import configure_logging
    from warehouse.db import connect_writer
    from warehouse.settings import get_settings as warehouse_settings

    parser = argparse.ArgumentParser(description="Load the decision outbox into the warehouse.")
    parser.add_argument("--once", action="store_true", help="load what is there, publish the replica, exit")
    args = parser.parse_args(argv)
    configure_logging()
    settings = get_settings()
    wh = warehouse_settings()
    con = connect_writer(wh.path)
    loader = Loader(con, settings.outbox_dir, replica_path=wh.replica_path,
                    publish_interval_s=settings.replica_publish_interval_s,
                    archive_ttl_s=settings.idempotency_ttl_s + 3600)
    stop = threading.Event()
    if args.once:
        n = loader.run_once()
        loader.maybe_publish(force=True)
        print(f"loaded {n} decision rows from {settings.outbox_dir}")
    else:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        log.info("loader started", extra={"outbox": str(settings.outbox_dir), "warehouse": str(wh.path)})
        loader.run_forever(stop, settings.loader_poll_s)
    con.close()


if __name__ == "__main__":
    main()
