"""Per-partner token-bucket rate limit: shared through Redis (one atomic Lua script) or in-process.

The Lua script reads, refills and spends the bucket in one atomic step on the Redis server's clock, so several API
processes share one budget per partner without races or clock skew. When Redis is down the limiter degrades to an
in-process bucket (per process, so briefly more generous) instead of refusing traffic.

Leases: a Redis round trip per request cost the hot path more than the rest of a warm decision's I/O, so a process
takes up to ``lease`` tokens at once (``rate x 10 ms``, 1 to 16) and spends them locally for at most
``LEASE_TTL_S``; tokens left when the lease expires are dropped, never given back. The shared budget is therefore
never exceeded, and is stricter than configured by at most ``lease - 1`` tokens per process and lease (none at all
for rates under 200/s, where the lease is a single token).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from decision_service.errors import RateLimitedError
from decision_service.services.redis_guard import REDIS_ERRORS, RedisGuard

TOKEN_BUCKET_LUA = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local data = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(data[1])
local ts = tonumber(data[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local retry = 0
if tokens >= 1 then
  allowed = math.min(want, math.floor(tokens))
  tokens = tokens - allowed
else
  retry = (1 - tokens) / rate
end
redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(retry)}
"""


@dataclass
class _Bucket:
    tokens: float
    ts: float


class InProcessTokenBucket:
    """The embedded default and the fallback while Redis is down."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def take(self, partner_id: str) -> float:
        """Spend one token; return 0 when allowed, else the seconds until a token is available."""
        now = time.monotonic()
        b = self._buckets.get(partner_id)
        if b is None:
            b = self._buckets[partner_id] = _Bucket(float(self.burst), now)
        b.tokens = min(self.burst, b.tokens + (now - b.ts) * self.rate)
        b.ts = now
        if b.tokens >= 1:
            b.tokens -= 1
            return 0.0
        return (1 - b.tokens) / self.rate


LEASE_TTL_S = 0.1
"""Longest time a process keeps tokens it took from the shared bucket before dropping them."""


class RateLimiter:
    """``await check(partner_id)`` raises :class:`RateLimitedError` when the partner's bucket is empty."""

    def __init__(self, guard: RedisGuard, rate: float, burst: int) -> None:
        self.guard = guard
        self.rate = rate
        self.burst = burst
        self.lease = max(1, min(16, int(rate * 0.01), burst))
        self.local = InProcessTokenBucket(rate, burst)
        self._leases: dict[str, tuple[int, float]] = {}  # partner -> (tokens left, expiry on the monotonic clock)
        self._refills: dict[str, asyncio.Future[float | None]] = {}
        self._script = guard.client.register_script(TOKEN_BUCKET_LUA) if guard.client is not None else None

    async def _refill(self, partner_id: str) -> float | None:
        """Take up to ``lease`` tokens from the shared bucket: 0 when some were leased, the seconds to wait when the
        bucket is empty, None when Redis failed (the caller then uses the in-process bucket)."""
        try:
            allowed, retry_s = await self._script(  # type: ignore[misc]
                keys=[f"ratelimit:{partner_id}"], args=[self.rate, self.burst, self.lease])
        except REDIS_ERRORS as exc:
            self.guard.mark_down("rate_limit", exc)
            return None
        got = int(allowed)
        if got:
            self._leases[partner_id] = (got, time.monotonic() + LEASE_TTL_S)
            return 0.0
        return float(retry_s)

    async def _check_shared(self, partner_id: str) -> float | None:
        """Spend a leased token, refilling the lease when it is empty or expired. One refill per partner at a time:
        requests arriving meanwhile wait for it instead of each calling Redis (a herd of calls, and of pool
        connections, every time a busy lease ran out)."""
        while True:
            left, expires = self._leases.get(partner_id, (0, 0.0))
            if left > 0 and time.monotonic() < expires:
                self._leases[partner_id] = (left - 1, expires)
                return 0.0
            task = self._refills.get(partner_id)
            if task is None or task.done():
                task = self._refills[partner_id] = asyncio.ensure_future(self._refill(partner_id))
            result = await asyncio.shield(task)
            if self._refills.get(partner_id) is task:
                del self._refills[partner_id]
            if result is None or result > 0:
                return result

    async def check(self, partner_id: str) -> None:
        retry: float | None = None
        if self._script is not None and self.guard.available:
            retry = await self._check_shared(partner_id)
        if retry is None:
            retry = self.local.take(partner_id)
        if retry > 0:
            raise RateLimitedError(
                f"rate limit of {self.rate:g} requests/s (burst {self.burst}) exceeded for this partner",
                retry_after_s=retry,
            )
