"""Fault tests with real processes: SIGKILL under load, bureau outage, Redis stopped mid-run, fuzzing.

The durability claim is checked end to end: every request that got a 2xx before the SIGKILL is in the warehouse's
decisions table exactly once after the loader runs, and a retry with the same Idempotency-Key after the restart
returns the same decision without writing it again.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.decision_service.api.conftest import VALID_BODY, ApiServer, Bureau, body_for, make_server


def _load_warehouse(server: ApiServer) -> list[tuple]:
    """Run the loader once (as its own process would) and read the decisions table."""
    from decision_service.decision_log.loader import Loader
    from warehouse.db import connect_writer

    con = connect_writer(server.root / "warehouse.duckdb")
    try:
        Loader(con, server.outbox, replica_path=None, publish_interval_s=60, archive_ttl_s=86400).run_once()
        return con.execute("SELECT decision_id, application_id, request_id FROM decisions").fetchall()
    finally:
        con.close()


def _assert_logged_once(server: ApiServer, answered: list[dict]) -> list[tuple]:
    """Load the outbox: no decision twice, and every decision of every answered response present; the rows."""
    rows = _load_warehouse(server)
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids))
    in_wh = set(ids)
    for body in answered:
        for d in [*body["offers"], *body["not_matched"]]:
            assert d["decision_id"] in in_wh
    return rows


async def _fire(server: ApiServer, n: int, key: str, offset: int, concurrency: int = 8,
                idem_prefix: str | None = None) -> list[tuple[int, int, dict | None, float]]:
    """Send n decisions with bounded concurrency; returns (index, status, body, seconds); status 0 = no answer."""
    sem = asyncio.Semaphore(concurrency)
    out: list[tuple[int, int, dict | None, float]] = []
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        async def one(i: int) -> None:
            headers = {"X-API-Key": server.keys[key]}
            if idem_prefix:
                headers["Idempotency-Key"] = f"{idem_prefix}-{i}"
            async with sem:
                t0 = time.perf_counter()
                try:
                    r = await client.post("/v1/decisions", json=body_for(offset + i), headers=headers)
                    out.append((i, r.status_code, r.json() if r.status_code == 200 else None,
                                time.perf_counter() - t0))
                except httpx.HTTPError:
                    out.append((i, 0, None, time.perf_counter() - t0))

        await asyncio.gather(*(one(i) for i in range(n)))
    return out


def test_sigkill_under_load_loses_nothing_and_duplicates_nothing(tmp_path: Path, model_dir: Path,
                                                                 bureau: Bureau) -> None:
    bureau.configure()
    server = make_server(tmp_path / "api", model_dir, bureau.url).start()
    try:
        async def load_then_kill() -> list[tuple[int, int, dict | None, float]]:
            task = asyncio.create_task(_fire(server, 300, "P04", 10_000, concurrency=16, idem_prefix="k"))
            await asyncio.sleep(1.5)
            server.kill()  # SIGKILL mid-load: no shutdown hook runs
            return await task

        results = asyncio.run(load_then_kill())
    finally:
        server.stop()
    accepted = [body for _, status, body, _ in results if status == 200]
    assert 0 < len(accepted) < 300, "the kill must land mid-load for this test to mean anything"
    rows = _assert_logged_once(server, accepted)
    # After a restart, a retried key returns the stored decision and writes nothing new.
    server.start()
    try:
        i, _, first, _ = next(r for r in results if r[1] == 200)
        retry = httpx.post(f"{server.url}/v1/decisions", json=body_for(10_000 + i),
                           headers={"X-API-Key": server.keys["P04"], "Idempotency-Key": f"k-{i}"})
        assert retry.status_code == 200 and retry.json()["replayed"] is True
        assert retry.json()["application_id"] == first["application_id"]
    finally:
        server.stop()
    assert len(_load_warehouse(server)) == len(rows)


def test_bureau_outage_answers_everything_fast_with_fallback(tmp_path: Path, model_dir: Path,
                                                             bureau: Bureau) -> None:
    server = make_server(tmp_path / "api", model_dir, bureau.url, bureau_timeout_s=0.4, bureau_budget_s=0.9,
                         breaker_fail_max=3).start()
    try:
        bureau.configure(outage="hang")
        results = asyncio.run(_fire(server, 40, "P01", 20_000, concurrency=10))
    finally:
        bureau.configure()
        server.stop()
    assert all(status == 200 for _, status, _, _ in results)
    assert max(sec for _, _, _, sec in results) < 3.0
    for _, _, body, _ in results:
        assert body is not None and body["feature_source"] == "fallback"
        decided = [*body["offers"], *body["not_matched"]]
        assert len(decided) == 5 and all(d["fallback_used"] for d in decided)
        assert not body["offers"]  # without bureau data the fallback never approves


def test_models_slower_than_their_budget_are_answered_by_the_fallback_and_logged(tmp_path: Path, model_dir: Path,
                                                                                   bureau: Bureau) -> None:
    """Real models given a 1 ms budget (a batch takes longer): the fallback answers for them, every request is
    answered well inside 3 s, and every decision, model or fallback, is logged exactly once."""
    bureau.configure()
    server = make_server(tmp_path / "api", model_dir, bureau.url, model_timeout_s=0.001).start()
    try:
        results = asyncio.run(_fire(server, 60, "P04", 40_000, concurrency=16))
    finally:
        server.stop()
    assert all(status == 200 for _, status, _, _ in results)
    assert max(sec for _, _, _, sec in results) < 3.0
    decided = [d for _, _, body, _ in results for d in [*body["offers"], *body["not_matched"]]]  # type: ignore[index]
    assert len(decided) == 60 * 3 and any(d["fallback_used"] for d in decided)
    _assert_logged_once(server, [body for _, _, body, _ in results])  # type: ignore[misc]


def test_redis_stopped_mid_run_degrades_without_failing(tmp_path: Path, model_dir: Path, bureau: Bureau,
                                                        redis_server) -> None:
    bureau.configure()
    server = make_server(tmp_path / "api", model_dir, bureau.url, redis_url=redis_server.url).start()
    try:
        before = asyncio.run(_fire(server, 20, "P04", 30_000))
        assert all(s == 200 for _, s, _, _ in before)
        import redis

        assert any(k.startswith(b"bureau:") for k in redis.Redis.from_url(redis_server.url).keys("*"))
        redis_server.stop()
        during = asyncio.run(_fire(server, 30, "P04", 30_000))  # same applicants: local cache still serves
        assert all(s == 200 for _, s, _, _ in during)
        metrics = httpx.get(f"{server.url}/metrics").text
        assert "redis_degraded_total" in metrics
    finally:
        redis_server.start()
        server.stop()


def test_rate_limit_shared_through_redis(tmp_path: Path, model_dir: Path, bureau: Bureau, redis_server) -> None:
    bureau.configure()
    server = make_server(tmp_path / "api", model_dir, bureau.url, redis_url=redis_server.url,
                         rate_limit_per_s=0.05, rate_limit_burst=5).start()  # one refill per 20 s: timing-proof
    try:
        statuses = [httpx.post(f"{server.url}/v1/decisions", json=body_for(40_000 + i),
                               headers={"X-API-Key": server.keys["P01"]}).status_code for i in range(8)]
        assert statuses == [200] * 5 + [429] * 3
        import redis

        assert redis.Redis.from_url(redis_server.url).exists("ratelimit:P01")  # the bucket lives in Redis
        r = httpx.post(f"{server.url}/v1/decisions", json=VALID_BODY, headers={"X-API-Key": server.keys["P01"]})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        err = r.json()["error"]
        assert err["code"] == "rate_limited" and err["request_id"] == r.headers["x-request-id"]
        # the other partner has its own bucket
        assert httpx.post(f"{server.url}/v1/decisions", json=VALID_BODY,
                          headers={"X-API-Key": server.keys["P04"]}).status_code == 200
        accepted = statuses.count(200) + 1
        assert sum(len(r["decisions"]) > 0 for r in server.outbox_records()) == accepted
    finally:
        server.stop()


_json_scalars = st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False) | st.text(
    max_size=30)
_json = st.recursive(_json_scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c,
                                                                                            max_size=5), max_leaves=20)


def _mutations() -> st.SearchStrategy[dict]:
    paths = [(s, k) for s in ("applicant", "application") for k in VALID_BODY[s]]

    @st.composite
    def mutate(draw: st.DrawFn) -> dict:
        body = json.loads(json.dumps(VALID_BODY))
        for section, key in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3)):
            body[section][key] = draw(_json)
        return body

    return mutate()


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.one_of(_json, _mutations()))
def test_fuzzed_bodies_never_cause_5xx(api: ApiServer, body: object) -> None:
    r = httpx.post(f"{api.url}/v1/decisions", content=json.dumps(body), timeout=10,
                   headers={"X-API-Key": api.keys["P04"], "content-type": "application/json"})
    assert r.status_code < 500, r.text
    if r.status_code != 200:
        assert set(r.json()["error"]) == {"status", "code", "message", "field", "request_id"}
