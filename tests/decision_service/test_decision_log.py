"""Outbox (group commit, fsync before answer) and loader (exactly once into the warehouse, replica publication)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import duckdb
import orjson

from decision_service.decision_log.loader import CHECKPOINT, Loader
from decision_service.decision_log.outbox import Outbox, iter_records, list_segments
from decision_service.services.idempotency import IdempotencyStore
from decision_service.services.redis_guard import RedisGuard
from warehouse.db import connect_writer


def _record(i: int) -> dict:
    return {
        "v": 1, "request_id": f"r{i}", "partner_id": "P01",
        "applicant": {"applicant_id": f"R{i % 3}", "pan": f"ABCDE{i % 3:04d}F"},
        "application": {"application_id": f"A{i}", "applicant_id": f"R{i % 3}", "partner_id": "P01",
                        "received_at": "2025-01-01T10:00:00"},
        "bureau_report": {"report_id": f"B{i}", "applicant_id": f"R{i % 3}", "application_id": f"A{i}",
                          "pulled_at": "2025-01-01T10:00:00", "bureau_score": 700, "thin_file": False},
        "decisions": [{"decision_id": f"D{i}-{lender}", "application_id": f"A{i}", "lender_id": lender,
                       "decided_at": "2025-01-01T10:00:01", "decision": "decline", "reason_codes": ["X"],
                       "features": {"bureau_score": 700.0, "thin_file": 0.0}, "fallback_used": False}
                      for lender in ("L01", "L02")],
        "idempotency": {"key": f"k{i}", "body_hash": "h", "expires_at": 4e9},
        "response": {"application_id": f"A{i}"},
    }


def _write(directory: Path, records: list[dict], *, close: bool = False) -> Outbox:
    async def run() -> Outbox:
        box = Outbox(directory)
        await box.start()
        await asyncio.gather(*(box.append(r) for r in records))
        if close:
            await box.close()
        return box

    return asyncio.run(run())


def test_group_commit_writes_every_record_once(tmp_path: Path) -> None:
    _write(tmp_path, [_record(i) for i in range(50)])
    recs = [r for seg in list_segments(tmp_path) for _, r in iter_records(seg)]
    assert sorted(r["request_id"] for r in recs) == sorted(f"r{i}" for i in range(50))


def test_torn_tail_is_ignored(tmp_path: Path) -> None:
    seg = tmp_path / "seg-00000000000000000001-999999.jsonl"
    seg.write_bytes(orjson.dumps(_record(1)) + b"\n" + b'{"v": 1, "request_')
    assert [r["request_id"] for _, r in iter_records(seg)] == ["r1"]


def test_loader_is_exactly_once_even_when_the_checkpoint_is_lost(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    _write(outbox, [_record(i) for i in range(20)])
    con = connect_writer(tmp_path / "w.duckdb")
    loader = Loader(con, outbox, replica_path=tmp_path / "r.duckdb", publish_interval_s=0, archive_ttl_s=86400)
    assert loader.run_once() == 40
    (outbox / CHECKPOINT).unlink()  # crash after the commit, before the checkpoint: everything is read again
    assert loader.run_once() == 40
    assert con.execute("SELECT count(*), count(DISTINCT decision_id) FROM decisions").fetchone() == (40, 40)
    assert con.execute("SELECT count(*) FROM applicants").fetchone() == (3,)
    assert con.execute("SELECT count(*) FROM bureau_reports").fetchone() == (20,)
    assert loader.maybe_publish()
    con.close()
    ro = duckdb.connect(str(tmp_path / "r.duckdb"), read_only=True)
    assert ro.execute("SELECT count(*) FROM decisions").fetchone() == (40,)


def test_closed_segments_are_archived_and_replayed_for_idempotency(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    _write(outbox, [_record(i) for i in range(5)], close=True)
    con = connect_writer(tmp_path / "w.duckdb")
    Loader(con, outbox, replica_path=None, publish_interval_s=60, archive_ttl_s=86400).run_once()
    con.close()
    assert not list_segments(outbox) and len(list_segments(outbox, archived=True)) == 1
    store = IdempotencyStore(RedisGuard(None), 86400)
    assert store.replay_outbox(outbox) == 5
    assert asyncio.run(store.begin("P01", "k3", "h")) == orjson.dumps({"application_id": "A3"})


def test_segment_of_a_dead_writer_counts_as_done(tmp_path: Path) -> None:
    from decision_service.decision_log.outbox import segment_done

    dead = tmp_path / "seg-00000000000000000001-4194303.jsonl"
    dead.touch()
    live = tmp_path / f"seg-00000000000000000002-{os.getppid()}.jsonl"
    live.touch()
    assert segment_done(dead) and not segment_done(live)
