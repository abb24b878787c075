"""Lender scoring with cross-request micro-batching, per-lender timeouts and the rule-based fallback.

Why batch: at n=1 the numpy-vectorised feature and policy code costs the same per call as at n=64 (it is per-op
overhead), and TreeSHAP costs about half per row in a batch. Requests that arrive while a batch is being scored form
the next batch (natural batching, no added wait), so under load the per-decision cost falls while an idle service
still answers one request at a time.

Per batch, one worker-thread job builds the features once for all rows (the shared ``build_features``) and scores
every lender needed by any row: model + policy + (only for refer/decline) reason codes. The batch has
``model_timeout_s``: a lender not finished by then, or whose model fails or has no champion, is decided by the
conservative fallback for those rows (``fallback_used``); rows without a bureau report always use the fallback.
Why one job, not one thread per lender: on 2 cores under the GIL the lenders' numpy work does not overlap anyway, and
each hand-over between the event loop and a worker thread cost the loop a GIL switch (measured: submitting three
jobs per batch took ~15% of the loop thread). A lender that recently ran out of time is scored last, so a hanging
model costs only its own decisions (and its successors' only in the batch where it first hangs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from decision_service.features import FEATURE_NAMES, build_features, to_matrix
from decision_service.observability import DECISIONS, FALLBACKS, LENDER_SECONDS, TALLY
from decision_service.services.assembly import APP_DTYPES, BUREAU_DTYPES, Row, columns
from decision_service.services.ids import new_id

log = logging.getLogger(__name__)

FALLBACK_MODEL_ID = "fallback-rules"
FALLBACK_MODEL_VERSION = "fallback-1"
MAX_REASONS = 4

Columns = dict[str, np.ndarray]
_FEATURES = "\0features"  # keys of the per-batch result dict next to the lender ids
_ELAPSED = "\0elapsed:"
_RUNNING = "\0running"
_ROWS = "\0rows"

def feature_rows(features: Columns) -> list[bytes]:
    """Each row's feature vector as the JSON object the outbox record stores (NaN -> null), serialised once.

    Built in the scoring thread for the whole batch (one ``tolist`` instead of one slice and one ``float()`` per
    feature and row on the event loop); the values are the same Python floats as ``float(features[k][i])``.
    """
    matrix = to_matrix(features, FEATURE_NAMES).tolist()
    return [orjson.dumps({k: None if v != v else v for k, v in zip(FEATURE_NAMES, row, strict=True)})
            for row in matrix]


@dataclass
class LenderOutcome:
    lender_id: str
    decision: str
    score: float
    offered_amount: float | None
    offered_apr: float | None
    offered_tenure_months: int | None
    emi: float | None
    reason_codes: list[str]
    model_id: str
    model_version: str | None
    policy_version: str | None
    fallback_used: bool
    latency_ms: float = 0.0
    decision_id: str = ""


def _num(x: Any) -> float | None:
    v = float(x)
    return None if math.isnan(v) else v


def _outcomes(lender_id: str, pd: np.ndarray, res: Any, reasons: list[list[str]], model_id: str,
              model_version: str | None, policy_version: str | None, fallback: bool) -> list[LenderOutcome]:
    out = []
    for i in range(len(pd)):
        approve = res.decision[i] == "approve"
        tenure = _num(res.offered_tenure_months[i])
        codes = list(dict.fromkeys(reasons[i]))[:MAX_REASONS]
        out.append(LenderOutcome(
            lender_id=lender_id, decision=str(res.decision[i]), score=float(pd[i]),
            offered_amount=_num(res.offered_amount[i]) if approve else None,
            offered_apr=_num(res.offered_apr[i]) if approve else None,
            offered_tenure_months=int(tenure) if approve and tenure is not None else None,
            emi=_num(res.emi[i]) if approve else None,
            reason_codes=[] if approve else codes,
            model_id=model_id, model_version=model_version, policy_version=policy_version, fallback_used=fallback,
            decision_id=new_id("D"),
        ))
    return out


def _take(features: Columns, idx: np.ndarray) -> Columns:
    return {k: v[idx] for k, v in features.items()}


class DecisionEngine:
    """Model + policy (+ reasons) and the fallback, for a batch of rows of one lender."""

    def __init__(self, registry: Any, policies: dict[str, Any]) -> None:
        self.registry = registry
        self.policies = policies
        try:
            from decision_service.registry import NoChampionError, UnknownModelError

            self.unavailable: tuple[type[Exception], ...] = (NoChampionError, UnknownModelError)
        except ImportError:
            self.unavailable = (LookupError,)

    def can_score(self, lender_id: str) -> bool:
        return self.registry is not None and lender_id in self.policies

    def score_batch(self, lender_id: str, features: Columns) -> list[LenderOutcome]:
        """Runs in a worker thread. Reasons (TreeSHAP) only for the rows that refer or decline."""
        model = self.registry.champion(lender_id)
        policy = self.policies[lender_id]
        X = to_matrix(features, model.feature_names)
        pd = model.predict_pd(X)
        res = policy.decide(pd, features, model.thresholds)
        reasons = [list(r) for r in res.rule_reasons]
        owed = np.flatnonzero(res.decision != "approve")
        if owed.size:
            for i, codes in zip(owed.tolist(), model.reason_codes(X[owed], k=MAX_REASONS), strict=True):
                reasons[i].extend(codes)
        return _outcomes(lender_id, pd, res, reasons, str(model.model_id), str(model.version), policy.version, False)

    def fallback_batch(self, lender_id: str, features: Columns, why: str) -> list[LenderOutcome]:
        n = len(next(iter(features.values())))
        TALLY.inc(FALLBACKS, lender_id, why, amount=n)
        policy = self.policies.get(lender_id)
        if policy is None:
            return [LenderOutcome(lender_id, "refer", float("nan"), None, None, None, None,
                                  ["FALLBACK_DECISION", "FALLBACK_MANUAL_REVIEW"], FALLBACK_MODEL_ID,
                                  FALLBACK_MODEL_VERSION, None, True, decision_id=new_id("D")) for _ in range(n)]
        from decision_service.fallback import fallback_decide

        pd, res = fallback_decide(features, policy)
        return _outcomes(lender_id, pd, res, [list(r) for r in res.rule_reasons], FALLBACK_MODEL_ID,
                         FALLBACK_MODEL_VERSION, policy.version, True)


@dataclass
class _Item:
    app: Row
    bureau: Row
    history: Columns
    lenders: tuple[str, ...]
    bureau_ok: bool
    future: asyncio.Future[tuple[bytes, list[LenderOutcome]]]
    deadline: float = math.inf  # perf_counter time by which this request's lenders must be decided


def _batch_features(items: list[_Item]) -> Columns:
    """Features of every row of the batch, through the shared ``build_features``."""
    history = {k: np.concatenate([it.history[k] for it in items]) for k in items[0].history}
    return build_features(columns([it.app for it in items], APP_DTYPES),
                          columns([it.bureau for it in items], BUREAU_DTYPES), history)


class BatchScorer:
    """``await submit(...)`` -> (this row's feature vector as JSON bytes, one outcome per lender in the order given)."""

    def __init__(self, engine: DecisionEngine, executor: Executor, model_timeout_s: float, *, max_batch: int = 64,
                 max_inflight: int = 2) -> None:
        self.engine = engine
        self.executor = executor
        self.model_timeout_s = model_timeout_s
        self.max_batch = max_batch
        self._queue: list[_Item] = []
        self._wakeup: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self._task: asyncio.Task[None] | None = None
        self._max_inflight = max_inflight
        self._inflight: set[asyncio.Task[None]] = set()
        self._slow: set[str] = set()

    async def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(self._max_inflight)
        self._task = asyncio.create_task(self._run(), name="batch-scorer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    async def submit(self, app: Row, bureau: Row, history: Columns, lenders: tuple[str, ...],
                     bureau_ok: bool, *, deadline: float = math.inf) -> tuple[bytes, list[LenderOutcome]]:
        """``deadline`` (``time.perf_counter()`` scale): models still running then, or not started by then because
        the request waited in the queue, are replaced by the fallback (reason ``deadline``)."""
        assert self._wakeup is not None, "BatchScorer.start() was not called"
        fut: asyncio.Future[tuple[bytes, list[LenderOutcome]]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Item(app, bureau, history, lenders, bureau_ok, fut, deadline))
        self._wakeup.set()
        return await fut

    async def _run(self) -> None:
        assert self._wakeup is not None and self._slots is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                await self._slots.acquire()  # while all slots are busy, arrivals accumulate into a bigger batch
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
                task = asyncio.create_task(self._process(batch))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)

    def _score_all(self, batch: list[_Item], lenders: list[str], done: dict[str, Any]) -> Columns:
        """Worker thread: features for the whole batch, then each lender's model rows, one lender after another.

        Each lender's outcomes (or its exception) land in ``done`` as soon as it finishes, so a deadline that
        passes mid-batch keeps the lenders already scored. One thread job per batch, not one per lender: on a
        2-core box the lenders gain nothing from running side by side under the GIL, and every hand-over between
        the event loop and a worker thread costs the loop a GIL switch.
        """
        t0 = time.perf_counter()
        features = _batch_features(batch)
        done[_FEATURES] = features
        done[_ROWS] = feature_rows(features)
        for lid in lenders:
            rows = [i for i, it in enumerate(batch) if lid in it.lenders and it.bureau_ok]
            if not rows or not self.engine.can_score(lid):
                continue
            done[_RUNNING] = lid
            try:
                done[lid] = self.engine.score_batch(lid, _take(features, np.array(rows)))
            except Exception as exc:  # reported per lender by the caller
                done[lid] = exc
            done[_ELAPSED + lid] = time.perf_counter() - t0
        return features

    def _lender_order(self, lenders: set[str]) -> list[str]:
        """Lenders whose model recently ran out of time go last, so they cannot make the others miss the deadline."""
        return sorted(lenders, key=lambda lid: (lid in self._slow, lid))

    async def _process(self, batch: list[_Item]) -> None:
        assert self._slots is not None
        t0 = time.perf_counter()
        try:
            lenders = self._lender_order({lid for it in batch for lid in it.lenders})
            done: dict[str, Any] = {}
            # The models' own budget, shortened when a request of the batch is near its decision deadline (it queued
            # behind a hanging model or an overload): the fallback then answers it in time instead of the models.
            budget = min(self.model_timeout_s, min(it.deadline for it in batch) - t0)
            cut = budget < self.model_timeout_s
            if budget > 0:
                loop = asyncio.get_running_loop()
                job = loop.run_in_executor(self.executor, self._score_all, batch, lenders, done)
                with contextlib.suppress(TimeoutError):  # what finished in time is in ``done``; the rest falls back
                    await asyncio.wait_for(job, budget)
            running = done.get(_RUNNING)  # the lender that held the batch up, if the deadline passed
            features = done.get(_FEATURES)
            if features is None:  # the job never got to start (all threads busy): features here, models fall back
                features = _batch_features(batch)
            rows = done.get(_ROWS)
            if rows is None:
                rows = feature_rows(features)
            results: list[dict[str, LenderOutcome]] = [{} for _ in batch]
            for lid in lenders:
                self._collect(lid, batch, features, done, results, t0, lid == running, cut)
            for i, it in enumerate(batch):
                if not it.future.done():
                    it.future.set_result((rows[i], [results[i][lid] for lid in it.lenders]))
        except Exception as exc:
            for it in batch:
                if not it.future.done():
                    it.future.set_exception(exc)
        finally:
            self._slots.release()

    def _collect(self, lender_id: str, batch: list[_Item], features: Columns, done: dict[str, Any],
                 results: list[dict[str, LenderOutcome]], t0: float, was_running: bool, cut: bool) -> None:
        """This lender's outcomes: the model's when it finished in time, else the fallback's (with the reason)."""
        rows = [i for i, it in enumerate(batch) if lender_id in it.lenders]
        model_rows = [i for i in rows if batch[i].bureau_ok]
        no_bureau = [i for i in rows if not batch[i].bureau_ok]
        outcomes: dict[int, LenderOutcome] = {}
        if no_bureau:
            sub = _take(features, np.array(no_bureau))
            outcomes.update(zip(no_bureau, self.engine.fallback_batch(lender_id, sub, "bureau_unavailable"),
                                strict=True))
        elapsed = done.get(_ELAPSED + lender_id, time.perf_counter() - t0)
        if model_rows:
            scored = done.get(lender_id)
            why = None
            if not self.engine.can_score(lender_id):
                why = "model_unavailable"
            elif scored is None:
                why = "deadline" if cut else "timeout"
                if was_running and not cut:  # it, not a lender before it, used up the time: it goes last from now on
                    self._slow.add(lender_id)
            elif isinstance(scored, self.engine.unavailable):
                why = "model_unavailable"
            elif isinstance(scored, Exception):
                log.error("model failed; fallback decides", exc_info=scored, extra={"lender_id": lender_id})
                why = "error"
            else:
                self._slow.discard(lender_id)
                outcomes.update(zip(model_rows, scored, strict=True))
            if why is not None:
                sub = _take(features, np.array(model_rows))
                outcomes.update(zip(model_rows, self.engine.fallback_batch(lender_id, sub, why), strict=True))
        for i, out in outcomes.items():
            out.latency_ms = round(elapsed * 1000, 3)
            results[i][lender_id] = out
            TALLY.inc(DECISIONS, lender_id, out.decision)
        TALLY.observe(LENDER_SECONDS, elapsed, lender_id)
