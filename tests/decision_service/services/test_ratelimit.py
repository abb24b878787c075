"""The shared token bucket with per-process leases, against a real Redis: never more generous than configured."""

from __future__ import annotations

import asyncio
import time

import pytest

from decision_service.errors import RateLimitedError
from decision_service.services.ratelimit import RateLimiter
from decision_service.services.redis_guard import RedisGuard


async def _spend(limiters: list[RateLimiter], partner: str, n: int) -> int:
    async def one(i: int) -> bool:
        try:
            await limiters[i % len(limiters)].check(partner)
            return True
        except RateLimitedError:
            return False

    return sum(await asyncio.gather(*(one(i) for i in range(n))))


@pytest.mark.parametrize(("rate", "burst", "lease"), [(0.05, 5, 1), (1000.0, 40, 10), (5000.0, 100, 16)])
def test_two_processes_share_one_budget(redis_server, rate: float, burst: int, lease: int) -> None:
    partner = f"T-{rate}-{burst}"

    async def run() -> tuple[int, float, list[RateLimiter]]:
        guards = [RedisGuard(redis_server.url, timeout_s=1.0) for _ in range(2)]  # two "workers"
        limiters = [RateLimiter(g, rate, burst) for g in guards]
        t0 = time.monotonic()
        allowed = await _spend(limiters, partner, 3 * burst)
        elapsed = time.monotonic() - t0
        for g in guards:
            await g.close()
        return allowed, elapsed, limiters

    allowed, elapsed, limiters = asyncio.run(run())
    assert limiters[0].lease == lease
    assert allowed <= burst + rate * elapsed + 1  # the shared budget is never exceeded
    assert allowed >= burst - 2 * (lease - 1)  # and leases waste at most lease - 1 tokens per process
