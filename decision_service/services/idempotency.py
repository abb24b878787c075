"""Idempotency-Key handling: a retried request gets the original decision and nothing is written twice.

The stored answer is the response body of the first request, keyed by (partner, key) with the SHA-256 of the request
body. Same key and same body: the stored response is replayed. Same key, different body: 409. Two identical requests
arriving at the same time: the second waits for the first and then replays it, so only one decision is ever made.

Durability: the answer is part of the outbox record, which is fsync'd before the response is sent; at start-up the
API replays the outbox (pending and archived segments) into this index, so a restart or a SIGKILL does not forget a
key. With Redis configured the index is also shared between processes (SET with a TTL), and a request about to decide
claims its key there first (SET NX with a short TTL), so two identical requests arriving at the same moment at two
API workers still make only one decision: the second waits for the first's answer and replays it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from decision_service.decision_log.outbox import iter_records, list_segments
from decision_service.errors import IdempotencyConflictError
from decision_service.services.redis_guard import REDIS_ERRORS, RedisGuard

CLAIM_TTL_MS = 5_000
"""How long a claim on a key lives in Redis: longer than a decision's whole budget, short enough that a worker killed
mid-decision delays a retry of its key by seconds only."""
CLAIM_POLL_S = 0.02


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class StoredAnswer:
    body_hash: str
    response: bytes
    expires_at: float


class IdempotencyStore:
    def __init__(self, guard: RedisGuard, ttl_s: float) -> None:
        self.guard = guard
        self.ttl_s = ttl_s
        self._local: dict[tuple[str, str], StoredAnswer] = {}
        self._inflight: dict[tuple[str, str], tuple[str, asyncio.Event]] = {}

    def _redis_key(self, partner_id: str, key: str) -> str:
        return f"idem:{partner_id}:{key}"

    def _claim_key(self, partner_id: str, key: str) -> str:
        return f"idem-claim:{partner_id}:{key}"

    async def _claim(self, partner_id: str, key: str, digest: str) -> bool:
        """Claim the key across processes (True: decide it); False after a short wait while another process holds
        it. Without Redis (or while it is down) the in-process guard is all there is: True."""
        if not self.guard.available:
            return True
        client = self.guard.client
        try:
            if await client.set(self._claim_key(partner_id, key), digest, nx=True, px=CLAIM_TTL_MS):  # type: ignore[union-attr]
                # The holder we waited for may have stored its answer and released the claim between our last look
                # and this claim: look once more, now that the key is ours, or we would decide it a second time.
                if await client.exists(self._redis_key(partner_id, key)):  # type: ignore[union-attr]
                    await client.delete(self._claim_key(partner_id, key))  # type: ignore[union-attr]
                    return False
                return True
            holder = await client.get(self._claim_key(partner_id, key))  # type: ignore[union-attr]
        except REDIS_ERRORS as exc:
            self.guard.mark_down("idempotency", exc)
            return True
        if holder is not None and holder.decode() != digest:
            raise IdempotencyConflictError(
                "this Idempotency-Key is in use by a request with a different body", field="Idempotency-Key")
        await asyncio.sleep(CLAIM_POLL_S)
        return False

    def remember(self, partner_id: str, key: str, answer: StoredAnswer) -> None:
        if answer.expires_at > time.time():
            self._local[(partner_id, key)] = answer

    def replay_outbox(self, directory: Path) -> int:
        """Rebuild the index from every outbox segment still on disk (pending and archived)."""
        n = 0
        for seg in [*list_segments(directory, archived=True), *list_segments(directory)]:
            for _, rec in iter_records(seg):
                idem = rec.get("idempotency")
                if idem:
                    self.remember(rec["partner_id"], idem["key"], StoredAnswer(
                        idem["body_hash"], orjson.dumps(rec["response"]), float(idem["expires_at"])))
                    n += 1
        return n

    async def _lookup(self, partner_id: str, key: str) -> StoredAnswer | None:
        hit = self._local.get((partner_id, key))
        if hit is not None:
            if hit.expires_at > time.time():
                return hit
            del self._local[(partner_id, key)]
        if self.guard.available:
            try:
                raw = await self.guard.client.get(self._redis_key(partner_id, key))  # type: ignore[union-attr]
            except REDIS_ERRORS as exc:
                self.guard.mark_down("idempotency", exc)
                return None
            if raw is not None:
                d = orjson.loads(raw)
                hit = StoredAnswer(d["body_hash"], d["response"].encode(), float(d["expires_at"]))
                self.remember(partner_id, key, hit)
                return hit
        return None

    async def begin(self, partner_id: str, key: str, digest: str) -> bytes | None:
        """Return the stored response to replay, or None when the caller should decide (then call ``finish``)."""
        while True:
            hit = await self._lookup(partner_id, key)
            if hit is not None:
                if hit.body_hash != digest:
                    raise IdempotencyConflictError(
                        "this Idempotency-Key was already used with a different request body", field="Idempotency-Key")
                return hit.response
            running = self._inflight.get((partner_id, key))
            if running is None:
                event = asyncio.Event()
                self._inflight[(partner_id, key)] = (digest, event)  # before the await: same-process duplicates wait
                try:
                    claimed = await self._claim(partner_id, key, digest)
                except BaseException:
                    del self._inflight[(partner_id, key)]
                    event.set()
                    raise
                if claimed:
                    return None
                del self._inflight[(partner_id, key)]  # another process is deciding it: look for its answer again
                event.set()
                continue
            if running[0] != digest:
                raise IdempotencyConflictError(
                    "this Idempotency-Key is in use by a request with a different body", field="Idempotency-Key")
            await running[1].wait()
            if (partner_id, key) not in self._local:  # the first attempt failed: let this one decide
                continue

    async def finish(self, partner_id: str, key: str, answer: StoredAnswer | None) -> None:
        """Store the answer (None when the request failed and nothing was decided) and wake waiting duplicates."""
        if answer is not None:
            self.remember(partner_id, key, answer)
            if self.guard.available:
                payload = orjson.dumps({"body_hash": answer.body_hash, "response": answer.response.decode(),
                                        "expires_at": answer.expires_at})
                try:
                    await self.guard.client.set(  # type: ignore[union-attr]
                        self._redis_key(partner_id, key), payload, ex=int(self.ttl_s))
                except REDIS_ERRORS as exc:
                    self.guard.mark_down("idempotency", exc)
        if self.guard.available:  # answered (now in Redis) or failed: either way, release the claim
            try:
                await self.guard.client.delete(self._claim_key(partner_id, key))  # type: ignore[union-attr]
            except REDIS_ERRORS as exc:
                self.guard.mark_down("idempotency", exc)
        running = self._inflight.pop((partner_id, key), None)
        if running is not None:
            running[1].set()
