"""The durable outbox: append-only JSON-lines segments, fsync'd with group commit before a decision is answered.

Why an outbox: DuckDB allows one writing process per file, and while it holds the file nobody else can open it, so
the API cannot write the warehouse itself without serialising every request behind one lock and blocking the copilot.
Instead the API appends one record per answered request to a segment file and only answers once the record is on
disk (fsync); a single loader process moves records into the warehouse, idempotently by decision_id. A SIGKILL right
after the answer cannot lose the decision: it is already in a file the loader will read.

Group commit: records that arrive while an fsync is running are written and fsync'd together in the next one, so the
cost of durability is one fsync per batch rather than per request. A ``write()`` syscall completes or not as a whole
when a process is killed, so the loader only ever sees complete lines (it ignores an unterminated tail).

Segment files are named ``seg-<start ns>-<pid>.jsonl``; when the writer rotates or closes cleanly it drops a
``.done`` marker next to the segment, and a segment whose writer process is gone counts as done too.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from decision_service.errors import OutboxClosedError
from decision_service.observability import OUTBOX_BATCH, TALLY
from warehouse.db import pid_alive

SEGMENT_GLOB = "seg-*.jsonl"
ARCHIVE_DIR = "archive"


def segment_done(path: Path) -> bool:
    """A segment is complete when its writer marked it done or its writer process no longer exists."""
    if path.with_suffix(".done").exists():
        return True
    try:
        pid = int(path.stem.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return True
    return pid != os.getpid() and not pid_alive(pid)


def iter_records(path: Path, offset: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    """Complete records of a segment from ``offset``: yields (end offset, record); a torn tail is not yielded."""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    pos = 0
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            return
        line = data[pos:nl]
        pos = nl + 1
        if line.strip():
            yield offset + pos, orjson.loads(line)


def list_segments(directory: Path, *, archived: bool = False) -> list[Path]:
    base = directory / ARCHIVE_DIR if archived else directory
    return sorted(base.glob(SEGMENT_GLOB)) if base.exists() else []


class Outbox:
    """Async group-commit writer; one per API process. ``await append(record)`` returns once it is fsync'd."""

    def __init__(self, directory: Path, *, segment_bytes: int = 64 * 1024 * 1024, group_commit_ms: float = 0.0):
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.group_commit_s = group_commit_ms / 1000
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0
        self._closed = False

    @property
    def path(self) -> Path | None:
        return self._path

    def _open_segment(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._path = self.directory / f"seg-{time.time_ns():020d}-{os.getpid()}.jsonl"
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        self._size = 0
        dir_fd = os.open(self.directory, os.O_RDONLY)  # make the new file's directory entry durable too
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _close_segment(self) -> None:
        if self._fd is None or self._path is None:
            return
        os.fsync(self._fd)
        os.close(self._fd)
        self._path.with_suffix(".done").touch()
        self._fd = None

    async def start(self) -> None:
        self._open_segment()
        self._wakeup = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="outbox-group-commit")

    async def append(self, record: dict[str, Any]) -> None:
        """Queue one record and wait until it is durable on disk."""
        if self._closed or self._wakeup is None:
            raise OutboxClosedError("outbox is closed")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((orjson.dumps(record, default=str) + b"\n", fut))
        self._wakeup.set()
        await fut

    def _write_batch(self, payload: bytes) -> None:
        """Runs in a worker thread: one write + one fsync for the whole batch; rotates full segments."""
        assert self._fd is not None
        view = memoryview(payload)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        os.fdatasync(self._fd)  # data + the file size (what the loader needs), not the mtime: durable, cheaper
        self._size += len(payload)
        if self._size >= self.segment_bytes:
            self._close_segment()
            self._open_segment()

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if self.group_commit_s:
                await asyncio.sleep(self.group_commit_s)
            batch, self._pending = self._pending, []
            if not batch:
                if self._closed:
                    return
                continue
            try:
                await asyncio.to_thread(self._write_batch, b"".join(b for b, _ in batch))
            except Exception as exc:  # a disk error must fail the requests, never answer them
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            TALLY.observe(OUTBOX_BATCH, len(batch))
            for _, fut in batch:
                if not fut.done():
                    fut.set_result(None)
            if self._closed:
                self._wakeup.set()  # drain whatever arrived meanwhile, then exit on the empty batch

    async def close(self) -> None:
        """Flush everything queued, fsync, mark the segment done. Called at graceful shutdown."""
        if self._closed:
            return
        self._closed = True
        if self._wakeup is not None and self._task is not None:
            self._wakeup.set()
            await self._task
        self._close_segment()
