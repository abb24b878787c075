"""Bureau client over real HTTP: per-call timeout, bounded retries inside a total budget, and a circuit breaker.

The bureau is the slowest and least reliable dependency of a decision. The client never lets it break the 3-second
promise: each call has a timeout, retries (tenacity) stop when the budget is spent, and after repeated failures the
breaker (purgatory, asyncio-native) opens so requests go straight to fallback features instead of queueing on a dead
bureau. ``BureauService.get`` adds the cache in front and says where the report came from (cache, live, fallback).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, stop_after_delay, wait_fixed

from decision_service.bureau.cache import BureauCache, CachedReport
from decision_service.errors import BureauError, BureauUnavailableError
from decision_service.observability import BREAKER_STATE, BUREAU_CALLS

log = logging.getLogger(__name__)

_BREAKER = "bureau"
_STATE_CODE = {"closed": 0, "half-opened": 1, "opened": 2}

FeatureSource = Literal["cache", "live", "fallback"]


class _RetryableBureauError(BureauError):
    """A failure worth one more try (timeout, connection error, 5xx)."""


@dataclass(frozen=True)
class BureauResult:
    """What the decision gets from the bureau layer."""

    report: dict[str, Any] | None
    source: FeatureSource
    age_s: float | None
    error: str | None = None


class BureauClient:
    """Fetches one report by PAN from the bureau's HTTP API."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float,
        retries: int,
        budget_s: float,
        breaker_fail_max: int,
        breaker_reset_s: float,
    ) -> None:
        self.timeout_s = timeout_s
        self.retries = retries
        self.budget_s = budget_s
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=512, max_keepalive_connections=128),
        )
        # The breaker counts only bureau failures, never "the breaker is open" itself.
        self._breakers = AsyncCircuitBreakerFactory(default_threshold=breaker_fail_max, default_ttl=breaker_reset_s)

    async def breaker_state(self) -> str:
        brk = await self._breakers.get_breaker(_BREAKER)
        return brk.context.state

    async def _call_once(self, pan: str) -> dict[str, Any]:
        try:
            resp = await self._http.get(f"/v1/reports/{pan}")
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            BUREAU_CALLS.labels("transport_error").inc()
            raise _RetryableBureauError(f"bureau unreachable: {exc!r}") from exc
        if resp.status_code >= 500:
            BUREAU_CALLS.labels("server_error").inc()
            raise _RetryableBureauError(f"bureau answered {resp.status_code}")
        if resp.status_code != 200:
            BUREAU_CALLS.labels("client_error").inc()
            raise BureauError(f"bureau rejected the request with {resp.status_code}")
        try:
            report = resp.json()
        except ValueError as exc:
            BUREAU_CALLS.labels("malformed").inc()
            raise BureauError("bureau sent a malformed body") from exc
        BUREAU_CALLS.labels("ok").inc()
        return report

    async def fetch(self, pan: str) -> dict[str, Any]:
        """One report, or ``BureauError`` (``BureauUnavailableError`` when the breaker is open)."""
        brk = await self._breakers.get_breaker(_BREAKER)
        try:
            async with brk:
                async with asyncio.timeout(self.budget_s):
                    async for attempt in AsyncRetrying(
                        stop=stop_after_attempt(self.retries + 1) | stop_after_delay(self.budget_s - self.timeout_s),
                        wait=wait_fixed(0.05),
                        retry=retry_if_exception_type(_RetryableBureauError),
                        reraise=True,
                    ):
                        with attempt:
                            return await self._call_once(pan)
        except OpenedState as exc:
            BUREAU_CALLS.labels("breaker_open").inc()
            raise BureauUnavailableError("bureau circuit breaker is open") from exc
        except TimeoutError as exc:
            raise BureauError("bureau budget exhausted") from exc
        finally:
            BREAKER_STATE.set(_STATE_CODE.get(brk.context.state, 0))
        raise BureauError("unreachable")  # pragma: no cover - AsyncRetrying either returns or raises

    async def aclose(self) -> None:
        await self._http.aclose()


class BureauService:
    """Cache in front of the client; answers with the report and its provenance, never raises."""

    def __init__(self, client: BureauClient, cache: BureauCache) -> None:
        self.client = client
        self.cache = cache

    async def get(self, pan: str, *, refresh: bool = False) -> BureauResult:
        if not refresh:
            hit = await self.cache.get(pan)
            if hit is not None:
                return BureauResult(hit.report, "cache", hit.age_s())
        try:
            report = await self.client.fetch(pan)
        except BureauError as exc:
            log.warning("bureau unavailable, using fallback features", extra={"error": str(exc)})
            return BureauResult(None, "fallback", None, error=str(exc))
        await self.cache.set(pan, CachedReport(report, time.time()))
        return BureauResult(report, "live", 0.0)
