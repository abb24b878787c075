"""Per-partner token-bucket rate limit: shared through Redis (one atomic Lua script) or in-process.

The Lua script reads, refills and spends the bucket in one atomic step on the Redis server's clock, so several API
processes share one budget per partner without races or clock skew. When Redis is down the limiter degrades to an
in-process bucket (per process, so briefly more generous) instead of refusing traffic.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from decision_service.errors import RateLimitedError
from decision_service.services.redis_guard import REDIS_ERRORS, RedisGuard

TOKEN_BUCKET_LUA = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
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
  tokens = tokens - 1
  allowed = 1
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


class RateLimiter:
    """``await check(partner_id)`` raises :class:`RateLimitedError` when the partner's bucket is empty."""

    def __init__(self, guard: RedisGuard, rate: float, burst: int) -> None:
        self.guard = guard
        self.rate = rate
        self.burst = burst
        self.local = InProcessTokenBucket(rate, burst)
        self._script = guard.client.register_script(TOKEN_BUCKET_LUA) if guard.client is not None else None

    async def check(self, partner_id: str) -> None:
        retry: float | None = None
        if self._script is not None and self.guard.available:
            try:
                allowed, retry_s = await self._script(keys=[f"ratelimit:{partner_id}"], args=[self.rate, self.burst])
                retry = 0.0 if int(allowed) else float(retry_s)
            except REDIS_ERRORS as exc:
                self.guard.mark_down("rate_limit", exc)
        if retry is None:
            retry = self.local.take(partner_id)
        if retry > 0:
            raise RateLimitedError(
                f"rate limit of {self.rate:g} requests/s (burst {self.burst}) exceeded for this partner",
                retry_after_s=retry,
            )
