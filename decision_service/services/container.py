"""Everything one API process needs, built at start-up and closed at shutdown (the FastAPI lifespan owns it).

Models and policies are loaded up front so no request pays for it; a missing model or policy is not fatal (that
lender is decided by the fallback, and ``/readyz`` says the service is not ready), because a partner must still get an
answer. The registry is re-checked every few seconds, so a promotion or a rollback takes effect without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from decision_service.bureau.cache import BureauCache
from decision_service.bureau.client import BureauClient, BureauService
from decision_service.decision_log.outbox import Outbox
from decision_service.observability import TALLY
from decision_service.services.assembly import ApplicantDirectory
from decision_service.services.auth import ApiKeyAuthenticator
from decision_service.services.decisions import DecisionOrchestrator, Marketplace
from decision_service.services.idempotency import IdempotencyStore
from decision_service.services.ratelimit import RateLimiter
from decision_service.services.redis_guard import RedisGuard
from decision_service.services.scoring import BatchScorer, DecisionEngine
from decision_service.settings import Settings

log = logging.getLogger(__name__)

REGISTRY_RELOAD_S = 2.0


def _load_registry(model_dir: Path) -> Any:
    try:
        from decision_service.registry import ModelRegistry

        return ModelRegistry(model_dir)
    except Exception:
        log.exception("model registry unavailable; every lender will use the fallback")
        return None


def _load_policies(lenders: list[str], policy_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        from decision_service.policy import load_policy
    except Exception:
        log.exception("policy engine unavailable")
        return out
    for lid in lenders:
        try:
            out[lid] = load_policy(lid, policy_dir)
        except Exception:
            log.exception("policy not loaded", extra={"lender_id": lid})
    return out


class ServiceContainer:
    def __init__(self, settings: Settings, *, replica_path: Path | None) -> None:
        self.settings = settings
        self.replica_path = replica_path
        self.started_at = time.time()
        self.redis = RedisGuard(settings.redis_url, timeout_s=settings.redis_timeout_s)
        self.auth = ApiKeyAuthenticator(settings.api_keys_path)
        self.rate_limiter = RateLimiter(self.redis, settings.rate_limit_per_s, settings.rate_limit_burst)
        self.idempotency = IdempotencyStore(self.redis, settings.idempotency_ttl_s)
        self.marketplace = Marketplace.load(replica_path)
        self.registry = _load_registry(settings.model_dir)
        self.policies = _load_policies(sorted(self.marketplace.lender_names), settings.policy_dir)
        self.executor = ThreadPoolExecutor(max_workers=settings.scoring_threads, thread_name_prefix="score")
        self.engine = DecisionEngine(self.registry, self.policies)
        self.scorer = BatchScorer(self.engine, self.executor, settings.model_timeout_s,
                                  max_batch=settings.scoring_max_batch,
                                  max_inflight=settings.scoring_max_inflight)
        self.bureau_client = BureauClient(
            settings.bureau_url, timeout_s=settings.bureau_timeout_s, retries=settings.bureau_retries,
            budget_s=settings.bureau_budget_s, breaker_fail_max=settings.breaker_fail_max,
            breaker_reset_s=settings.breaker_reset_s)
        self.bureau = BureauService(self.bureau_client, BureauCache(self.redis, settings.bureau_cache_ttl_s))
        self.directory = ApplicantDirectory(replica_path)
        self.outbox = Outbox(settings.outbox_dir, segment_bytes=settings.outbox_segment_bytes,
                             group_commit_ms=settings.outbox_group_commit_ms)
        self.orchestrator = DecisionOrchestrator(self.bureau, self.directory, self.scorer, self.marketplace,
                                                 self.outbox, deadline_s=settings.decision_deadline_s)
        self._reloader: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None

    def models_status(self) -> dict[str, str]:
        """Per lender: the champion version in force, or why there is none."""
        status: dict[str, str] = {}
        for lid in sorted(self.marketplace.lender_names):
            if lid not in self.policies:
                status[lid] = "no policy"
                continue
            if self.registry is None:
                status[lid] = "no registry"
                continue
            try:
                status[lid] = str(self.registry.champion(lid).version)
            except Exception as exc:
                status[lid] = f"no champion ({type(exc).__name__})"
        return status

    def _warm_models(self) -> None:
        """Load every champion and build its TreeSHAP tables now, so the first decisions do not pay for them
        (building takes a fraction of a second per model: longer than the per-lender scoring budget)."""
        if self.registry is None:
            return
        for lid in sorted(self.policies):
            try:
                self.registry.champion(lid).warm_up()
            except Exception:
                log.warning("champion not warmed up", extra={"lender_id": lid}, exc_info=True)

    async def _reload_models(self) -> None:
        while True:
            await asyncio.sleep(REGISTRY_RELOAD_S)
            if self.registry is None:
                continue
            try:
                if await asyncio.to_thread(self.registry.reload):
                    await asyncio.to_thread(self._warm_models)
                    log.info("model deployments changed; reloaded", extra={"models": self.models_status()})
            except Exception:
                log.exception("registry reload failed; keeping the models in force")

    async def _flush_metrics(self) -> None:
        """Hot-path metrics are tallied in memory (``observability.TALLY``); write them out on a short period."""
        while True:
            await asyncio.sleep(self.settings.metrics_flush_s)
            TALLY.flush()

    async def start(self) -> None:
        sys.setswitchinterval(self.settings.gil_switch_interval_s)
        replayed = self.idempotency.replay_outbox(self.settings.outbox_dir)
        await asyncio.to_thread(self._warm_models)
        await self.outbox.start()
        await self.scorer.start()
        self._reloader = asyncio.create_task(self._reload_models(), name="registry-reload")
        self._flusher = asyncio.create_task(self._flush_metrics(), name="metrics-flush")
        log.info("decision service started", extra={"idempotency_keys_replayed": replayed,
                                                     "models": self.models_status(),
                                                     "redis": bool(self.settings.redis_url)})

    async def stop(self) -> None:
        for task in (self._reloader, self._flusher):
            if task is not None:
                task.cancel()
        await self.scorer.stop()
        await self.outbox.close()
        TALLY.flush()
        await self.bureau_client.aclose()
        await self.redis.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        log.info("decision service stopped; outbox flushed")
