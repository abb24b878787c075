"""Idempotency keys shared by two processes through a real Redis: one decision per key, whatever the interleaving."""

from __future__ import annotations

import asyncio
import time

from decision_service.services.idempotency import IdempotencyStore, StoredAnswer
from decision_service.services.redis_guard import RedisGuard


def test_a_claim_taken_after_the_holder_answered_replays_instead_of_deciding_again(redis_server) -> None:
    """The race: worker B looked for an answer (none yet), then worker A stored its answer and released its claim,
    then B claimed the key. B must find A's answer under its claim and replay it, not decide a second time."""

    async def run() -> tuple[bytes | None, bool]:
        a = IdempotencyStore(RedisGuard(redis_server.url, timeout_s=1.0), 3600)
        b = IdempotencyStore(RedisGuard(redis_server.url, timeout_s=1.0), 3600)
        assert await a.begin("P01", "race-1", "h1") is None  # A decides
        await a.finish("P01", "race-1", StoredAnswer("h1", b'{"application_id":"RA1"}', time.time() + 3600))
        real_lookup, stale = b._lookup, [True]

        async def lookup_once_stale(partner_id: str, key: str) -> StoredAnswer | None:
            if stale.pop() if stale else False:  # B's first look happened before A's answer was stored
                return None
            return await real_lookup(partner_id, key)

        b._lookup = lookup_once_stale  # type: ignore[method-assign]
        replay = await b.begin("P01", "race-1", "h1")
        claim_left = await b.guard.client.exists("idem-claim:P01:race-1")  # type: ignore[union-attr]
        for store in (a, b):
            await store.guard.close()
        return replay, bool(claim_left)

    replay, claim_left = asyncio.run(run())
    assert replay == b'{"application_id":"RA1"}'
    assert not claim_left  # B released the claim it took only to look


def test_concurrent_duplicates_across_two_stores_decide_once(redis_server) -> None:
    async def run() -> int:
        stores = [IdempotencyStore(RedisGuard(redis_server.url, timeout_s=1.0), 3600) for _ in range(2)]
        decided = 0

        async def one(i: int) -> bytes:
            nonlocal decided
            store = stores[i % 2]
            stored = await store.begin("P01", "dup-key", "h2")
            if stored is not None:
                return stored
            decided += 1
            await asyncio.sleep(0.01)  # deciding
            body = b'{"application_id":"RA2"}'
            await store.finish("P01", "dup-key", StoredAnswer("h2", body, time.time() + 3600))
            return body

        answers = await asyncio.gather(*(one(i) for i in range(12)))
        assert set(answers) == {b'{"application_id":"RA2"}'}
        for s in stores:
            await s.guard.close()
        return decided

    assert asyncio.run(run()) == 1
