"""Several API worker processes (``workers = 2``) behind one port: the durability and idempotency claims still hold.

Real processes throughout: uvicorn's supervisor with two workers (started as the launcher starts it), a real Redis,
the bureau simulator, and the loader run against the outbox afterwards. Each worker writes its own outbox segment;
the loader drains all of them; a SIGKILLed supervisor takes its workers with it (parent-death signal).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from decision_service.decision_log.outbox import list_segments, segment_done
from decision_service.services.launcher import api_command, api_env
from tests.decision_service.api.conftest import REPO, ApiServer, Bureau, body_for, make_server, wait_http
from tests.decision_service.api.test_faults import _assert_logged_once, _fire, _load_warehouse


def _start_workers(server: ApiServer, workers: int = 2) -> Path | None:
    env, metrics_dir = api_env(server.env, workers)
    log = open(server.root / f"api-{server.port}.log", "ab")  # noqa: SIM115 - closed with the process
    server.proc = subprocess.Popen([sys.executable, *api_command("127.0.0.1", server.port, workers, graceful_s=5)],
                                   cwd=REPO, env=env, stdout=log, stderr=log)
    wait_http(f"{server.url}/healthz", server.proc)
    # /healthz answers as soon as one worker is up; each worker opens its outbox segment at start-up, so wait for
    # ``workers`` live segments (the others may still be loading models)
    deadline = time.monotonic() + 60
    while len([seg for seg in list_segments(server.outbox) if not segment_done(seg)]) < workers:
        assert time.monotonic() < deadline, "not every worker started"
        time.sleep(0.1)
    return metrics_dir


def _refused(url: str, timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/healthz", timeout=0.5)
        except httpx.ConnectError:
            return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def test_workers_need_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from decision_service.settings import Settings

    monkeypatch.delenv("CREDIT_DECISION_REDIS_URL", raising=False)
    monkeypatch.setenv("CREDIT_DECISION_WORKERS", "2")
    with pytest.raises(ValidationError, match="workers > 1 needs redis_url"):
        Settings()
    monkeypatch.setenv("CREDIT_DECISION_REDIS_URL", "redis://127.0.0.1:1/0")
    assert Settings().workers == 2


def test_two_workers_sigkill_exactly_once_and_concurrent_duplicates_decided_once(
        tmp_path: Path, model_dir: Path, bureau: Bureau, redis_server) -> None:
    bureau.configure()
    # A generous Redis timeout: on a loaded test machine a 50 ms first call (script load) would mark Redis down, and
    # a worker that has degraded to in-process state cannot see the other's claims (documented degradation).
    server = make_server(tmp_path / "api", model_dir, bureau.url, redis_url=redis_server.url, workers=2,
                         redis_timeout_s=1.0)
    scratch = [_start_workers(server)]
    try:
        # The same Idempotency-Key and body sent at once on separate connections (so, often, to both workers).
        async def duplicates() -> list[tuple[int, dict]]:
            async def one(i: int) -> tuple[int, dict]:
                async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:  # a connection of its own
                    r = await c.post("/v1/decisions", json=body_for(50_000 + i // 4),
                                     headers={"X-API-Key": server.keys["P04"], "Idempotency-Key": f"dup-{i // 4}"})
                    assert r.status_code == 200, r.text
                    return i // 4, r.json()

            return await asyncio.gather(*(one(i) for i in range(24)))

        dup = asyncio.run(duplicates())
        by_key: dict[int, set[str]] = {}
        for k, body in dup:
            by_key.setdefault(k, set()).add(body["application_id"])
        assert all(len(ids) == 1 for ids in by_key.values()), by_key

        async def load_then_kill() -> list[tuple[int, int, dict | None, float]]:
            # more requests than fit in 1.5 s even on an idle machine; those after the kill fail fast
            task = asyncio.create_task(_fire(server, 1500, "P04", 60_000, concurrency=16, idem_prefix="w"))
            await asyncio.sleep(1.5)
            server.kill()  # SIGKILL the supervisor mid-load: its workers must die with it
            return await task

        results = asyncio.run(load_then_kill())
        assert _refused(server.url), "a worker outlived its SIGKILLed supervisor"
    finally:
        server.stop()
        if scratch[0] is not None:
            shutil.rmtree(scratch.pop(), ignore_errors=True)
    writers = {seg.stem.rsplit("-", 1)[1] for seg in list_segments(server.outbox)}
    assert len(writers) == 2, f"expected one outbox segment per worker, got writers {writers}"
    accepted = [body for _, status, body, _ in results if status == 200]
    assert 0 < len(accepted) < 1500, "the kill must land mid-load for this test to mean anything"
    rows = _assert_logged_once(server, [*accepted, *(b for _, b in dup)])
    applications = {r[1] for r in rows}
    assert all(next(iter(ids_)) in applications for ids_ in by_key.values())
    logged_dups = [r for r in server.outbox_records() if (r.get("idempotency") or {}).get("key", "").startswith("dup-")]
    assert len(logged_dups) == len(by_key)  # each duplicated key was decided and logged once
    # A restarted pair of workers replays a key decided before the kill, from the outbox or Redis; nothing new.
    scratch = [_start_workers(server)]
    try:
        i, _, first, _ = next(r for r in results if r[1] == 200)
        retry = httpx.post(f"{server.url}/v1/decisions", json=body_for(60_000 + i),
                           headers={"X-API-Key": server.keys["P04"], "Idempotency-Key": f"w-{i}"})
        assert retry.status_code == 200 and retry.json()["replayed"] is True
        assert retry.json()["application_id"] == first["application_id"]
        # one scrape reports both workers' files; the worker that answered writes its tally within metrics_flush_s
        deadline = time.monotonic() + 5
        while "http_requests_total" not in httpx.get(f"{server.url}/metrics").text:
            assert time.monotonic() < deadline, "the answering worker's metrics never reached the scrape"
            time.sleep(0.2)
    finally:
        server.stop()
        if scratch[-1] is not None:
            shutil.rmtree(scratch[-1], ignore_errors=True)
    assert len(_load_warehouse(server)) == len(rows)
