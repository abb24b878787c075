"""Bureau simulator, client (timeout, bounded retries, circuit breaker) and cache (24 h TTL checked at read time).

The simulator runs as a real process and the client talks to it over real HTTP; Redis is a real redis-server.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from decision_service.bureau.cache import BureauCache, CachedReport, InProcessCache, cache_key
from decision_service.bureau.client import BureauClient, BureauService
from decision_service.bureau.simulator import synthetic_report
from decision_service.errors import BureauError, BureauUnavailableError
from decision_service.services.redis_guard import RedisGuard
from tests.decision_service.api.conftest import REPO, free_port, wait_http

PAN = "ABCPS1234K"


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "decision_service.bureau.simulator", "--port", str(port),
                             "--latency-min-ms", "1", "--latency-max-ms", "3"], cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _configure(url: str, **cfg: object) -> None:
    base = {"latency_min_ms": 1, "latency_max_ms": 3, "failure_rate": 0.0, "outage": "none", "format_change": False}
    httpx.put(f"{url}/admin/config", json={**base, **cfg}).raise_for_status()


def _requests(url: str) -> int:
    return int(httpx.get(f"{url}/admin/config").json()["requests"])


def _client(url: str, **kw: float) -> BureauClient:
    opts = {"timeout_s": 0.3, "retries": 1, "budget_s": 0.8, "breaker_fail_max": 3, "breaker_reset_s": 30.0}
    opts.update(kw)
    return BureauClient(url, **opts)  # type: ignore[arg-type]


def test_reports_are_deterministic_per_pan_and_format_change_inflates_dpd30() -> None:
    a, b = synthetic_report(PAN), synthetic_report(PAN)
    assert {k: v for k, v in a.items() if k not in ("report_id", "pulled_at")} == \
        {k: v for k, v in b.items() if k not in ("report_id", "pulled_at")}
    changed = synthetic_report(PAN, format_change=True)
    assert changed["report_format_version"] == "v3" and a["report_format_version"] == "v2"
    assert changed["dpd30_count_12m"] > a["dpd30_count_12m"]
    thin = [synthetic_report(f"ABCDE{i:04d}F") for i in range(300)]
    assert all(r["bureau_score"] is None for r in thin if r["thin_file"])
    assert 0.05 < sum(r["thin_file"] for r in thin) / len(thin) < 0.2


def test_client_fetches_and_retries_a_failed_call(sim: str) -> None:
    _configure(sim)

    async def run() -> dict:
        c = _client(sim)
        try:
            return await c.fetch(PAN)
        finally:
            await c.aclose()

    assert asyncio.run(run())["report_format_version"] == "v2"
    _configure(sim, failure_rate=1.0)
    before = _requests(sim)
    with pytest.raises(BureauError):
        asyncio.run(run())
    assert _requests(sim) - before == 2  # one call + one bounded retry, no more


def test_breaker_opens_after_repeated_failures_and_stops_calling(sim: str) -> None:
    _configure(sim, outage="error")

    async def run() -> tuple[list[type], int, float]:
        c = _client(sim, retries=0)
        errors = []
        try:
            for _ in range(3):
                with pytest.raises(BureauError) as e:
                    await c.fetch(PAN)
                errors.append(type(e.value))
            before = _requests(sim)
            t0 = time.perf_counter()
            with pytest.raises(BureauUnavailableError):
                await c.fetch(PAN)
            return errors, _requests(sim) - before, time.perf_counter() - t0
        finally:
            await c.aclose()

    try:
        errors, calls_while_open, elapsed = asyncio.run(run())
    finally:
        _configure(sim)
    assert BureauUnavailableError not in errors  # the first failures really called the bureau
    assert calls_while_open == 0 and elapsed < 0.5  # open breaker: no call at all


def test_hanging_bureau_is_cut_at_the_budget(sim: str) -> None:
    _configure(sim, outage="hang")

    async def run() -> float:
        svc = BureauService(_client(sim, timeout_s=0.2, budget_s=0.5), BureauCache(RedisGuard(None), 86400))
        t0 = time.perf_counter()
        res = await svc.get(PAN)
        assert res.source == "fallback" and res.report is None
        await svc.client.aclose()
        return time.perf_counter() - t0

    try:
        assert asyncio.run(run()) < 0.8
    finally:
        _configure(sim)


def test_in_process_cache_enforces_ttl_at_read_time() -> None:
    cache = InProcessCache(ttl_s=60)
    cache.set(PAN, CachedReport({"x": 1}, time.time() - 30))
    assert cache.get(PAN) is not None
    cache.set(PAN, CachedReport({"x": 1}, time.time() - 61))
    assert cache.get(PAN) is None


def test_redis_cache_rejects_stale_entries_even_if_redis_still_has_them(redis_server) -> None:
    import redis

    raw = redis.Redis.from_url(redis_server.url)
    stale = orjson.dumps({"report": {"x": 1}, "fetched_at": time.time() - 90_000})
    raw.set(cache_key(PAN), stale, ex=3600)  # Redis would keep it another hour

    async def run() -> tuple[object, object]:
        cache = BureauCache(RedisGuard(redis_server.url), 86_400)
        first = await cache.get(PAN)
        await cache.set("ZZZZZ9999Z", CachedReport({"y": 2}, time.time()))
        fresh = await BureauCache(RedisGuard(redis_server.url), 86_400).get("ZZZZZ9999Z")  # another process's view
        return first, fresh

    first, fresh = asyncio.run(run())
    assert first is None
    assert fresh is not None and fresh.report == {"y": 2}  # type: ignore[attr-defined]


def test_cache_degrades_to_memory_when_redis_is_unreachable() -> None:
    async def run() -> object:
        cache = BureauCache(RedisGuard(f"redis://127.0.0.1:{free_port()}/0"), 86_400)
        await cache.set(PAN, CachedReport({"x": 1}, time.time()))
        return await cache.get(PAN)

    assert asyncio.run(run()) is not None


def test_simulator_serves_world_reports_from_a_replica(tmp_path: Path) -> None:
    from decision_service.bureau.simulator import WorldLookup
    from warehouse.db import connect_writer

    con = connect_writer(tmp_path / "w.duckdb")
    con.execute("INSERT INTO applicants (applicant_id, pan) VALUES ('C000000001', ?)", [PAN])
    con.execute("INSERT INTO bureau_reports (report_id, applicant_id, pulled_at, bureau_score, thin_file, "
                "report_format_version) VALUES ('B1', 'C000000001', TIMESTAMP '2025-01-01', 777, false, 'v2')")
    con.close()
    found = WorldLookup(tmp_path / "w.duckdb").lookup(PAN)
    assert found is not None and found["bureau_score"] == 777
    assert WorldLookup(tmp_path / "w.duckdb").lookup("ZZZZZ0000Z") is None
