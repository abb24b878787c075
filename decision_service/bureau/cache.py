"""Bureau report cache with a 24-hour TTL enforced when the entry is read.

Redis expiry alone is not enough: an entry written by another process with a longer expiry, a clock change or a
restored snapshot could otherwise serve a stale report, so every read checks ``fetched_at`` against the TTL. Redis is
used when configured (shared between processes); the in-process LRU is the embedded default and the fallback while
Redis is down. Keys are a SHA-256 of the PAN, so the cache never stores the PAN in clear.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from decision_service.observability import BUREAU_CACHE, TALLY
from decision_service.services.redis_guard import REDIS_ERRORS, RedisGuard


@dataclass(frozen=True)
class CachedReport:
    """A bureau report and when it was fetched from the bureau (epoch seconds)."""

    report: dict[str, Any]
    fetched_at: float

    def age_s(self, now: float | None = None) -> float:
        return (now if now is not None else time.time()) - self.fetched_at


def cache_key(pan: str) -> str:
    return "bureau:" + hashlib.sha256(pan.encode()).hexdigest()


class InProcessCache:
    """Bounded LRU of bureau reports; expiry is checked on read."""

    def __init__(self, ttl_s: float, max_entries: int = 200_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._data: OrderedDict[str, CachedReport] = OrderedDict()

    def get(self, pan: str) -> CachedReport | None:
        key = cache_key(pan)
        hit = self._data.get(key)
        if hit is None:
            return None
        if hit.age_s() > self.ttl_s:
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return hit

    def set(self, pan: str, entry: CachedReport) -> None:
        key = cache_key(pan)
        self._data[key] = entry
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)


class BureauCache:
    """Redis when configured and healthy, the in-process LRU otherwise (and always as a local copy)."""

    def __init__(self, guard: RedisGuard, ttl_s: float) -> None:
        self.guard = guard
        self.ttl_s = ttl_s
        self.local = InProcessCache(ttl_s)

    async def get(self, pan: str) -> CachedReport | None:
        entry = self.local.get(pan)
        if entry is not None:
            TALLY.inc(BUREAU_CACHE, "hit", "memory")
            return entry
        if self.guard.available:
            try:
                raw = await self.guard.client.get(cache_key(pan))  # type: ignore[union-attr]
            except REDIS_ERRORS as exc:
                self.guard.mark_down("bureau_cache", exc)
                raw = None
            if raw is not None:
                data = orjson.loads(raw)
                entry = CachedReport(data["report"], float(data["fetched_at"]))
                if entry.age_s() <= self.ttl_s:
                    self.local.set(pan, entry)
                    TALLY.inc(BUREAU_CACHE, "hit", "redis")
                    return entry
                TALLY.inc(BUREAU_CACHE, "expired", "redis")
                return None
        TALLY.inc(BUREAU_CACHE, "miss", "redis" if self.guard.client is not None else "memory")
        return None

    async def set(self, pan: str, entry: CachedReport) -> None:
        self.local.set(pan, entry)
        if not self.guard.available:
            return
        remaining = int(self.ttl_s - entry.age_s()) + 1
        if remaining <= 0:
            return
        payload = orjson.dumps({"report": entry.report, "fetched_at": entry.fetched_at})
        try:
            await self.guard.client.set(cache_key(pan), payload, ex=remaining)  # type: ignore[union-attr]
        except REDIS_ERRORS as exc:
            self.guard.mark_down("bureau_cache", exc)
