"""Use Redis when it is configured and healthy; degrade to in-process state when it is not.

Redis makes rate limits, the bureau cache and idempotency records shared between processes, but the service must
keep deciding when Redis stops: a failed call marks Redis down for a short cool-down, during which callers go
straight to their in-process fallback instead of paying a timeout on every request.
"""

from __future__ import annotations

import logging
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from decision_service.observability import REDIS_DEGRADED

log = logging.getLogger(__name__)

REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


class RedisGuard:
    """A shared ``redis.asyncio`` client plus the "is it usable right now" decision."""

    def __init__(self, url: str | None, *, timeout_s: float = 0.05, cooldown_s: float = 2.0) -> None:
        self.url = url
        self.cooldown_s = cooldown_s
        self._down_until = 0.0
        self.client: aioredis.Redis | None = (
            aioredis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                    retry_on_timeout=False)
            if url
            else None
        )

    @property
    def available(self) -> bool:
        """True when a client exists and Redis has not failed within the cool-down."""
        return self.client is not None and time.monotonic() >= self._down_until

    def mark_down(self, component: str, exc: BaseException) -> None:
        """Record a failure: skip Redis for ``cooldown_s`` and count the degradation."""
        if time.monotonic() >= self._down_until:
            log.warning("redis unavailable, degrading to in-process state", extra={"component": component,
                                                                                   "error": repr(exc)})
        self._down_until = time.monotonic() + self.cooldown_s
        REDIS_DEGRADED.labels(component).inc()

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
