"""Structured JSON logs carrying the request_id, and the Prometheus metrics of the decision service.

The request_id lives in a context variable set by the request middleware, so every log line written while serving a
request (the route, the bureau client, the outbox) carries it without being passed around.
"""

from __future__ import annotations

import bisect
import contextvars
import datetime as dt
import logging
import sys
import threading
from collections import Counter as _Counts
from typing import Any

import orjson
from prometheus_client import Counter, Gauge, Histogram

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key != "request_id":
                payload[key] = value
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        return orjson.dumps(payload, default=str).decode()


def configure_logging(level: str = "INFO") -> None:
    """Route the service's and uvicorn's loggers through the JSON formatter (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # the request middleware logs one richer line instead
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per bureau call is noise on the hot path


_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)

STAGE_SECONDS = Histogram(
    "decision_stage_seconds", "Time spent per decision stage.", ["stage"], buckets=_LATENCY_BUCKETS
)
LENDER_SECONDS = Histogram(
    "decision_lender_seconds", "Scoring time per lender (model, policy, reasons).", ["lender_id"],
    buckets=_LATENCY_BUCKETS,
)
DECISIONS = Counter("decisions_total", "Lender decisions made.", ["lender_id", "decision"])
FALLBACKS = Counter("decision_fallbacks_total", "Lender decisions taken by the rule-based fallback.",
                    ["lender_id", "reason"])
FEATURE_SOURCE = Counter("decision_feature_source_total", "Decisions by bureau feature source.", ["source"])
BUREAU_CACHE = Counter("bureau_cache_total", "Bureau cache lookups.", ["result", "backend"])
BUREAU_CALLS = Counter("bureau_calls_total", "Bureau HTTP calls by outcome.", ["outcome"])
BREAKER_STATE = Gauge("bureau_breaker_state", "Bureau circuit breaker: 0 closed, 1 half-open, 2 open.")
HTTP_REQUESTS = Counter("http_requests_total", "HTTP responses by route and status.", ["route", "status"])
REDIS_DEGRADED = Counter("redis_degraded_total", "Redis calls that failed and fell back to in-process state.",
                         ["component"])
OUTBOX_BATCH = Histogram("outbox_group_commit_records", "Records per outbox fsync.",
                         buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))


class Tally:
    """Hot-path metric updates summed in memory and written to the Prometheus values in one go by :meth:`flush`.

    Why: with several workers every Prometheus update is a locked write into the worker's mmap'd metrics file (plus a
    pid check); a warm decision made about ten of them (stages, lenders, cache, HTTP status), measured at ~7% of the
    event-loop thread. Here an update is a dict addition; ``flush`` writes one value per label set (and, for a
    histogram, one per bucket hit) however many decisions it covers. The container flushes every
    ``metrics_flush_s``, before every ``/metrics`` answer and at shutdown, and an update flushes inline once
    ``max_pending`` are waiting, so memory stays bounded even where no flusher runs (tools, tests). Scrapes of other
    workers' values therefore lag by at most one flush interval. Thread-safe (one short lock per update).
    """

    def __init__(self, max_pending: int = 4096) -> None:
        self.max_pending = max_pending
        self._lock = threading.Lock()
        self._counts: dict[tuple[Any, tuple[str, ...]], float] = {}
        self._observed: dict[tuple[Any, tuple[str, ...]], list[float]] = {}
        self._pending = 0
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}

    def inc(self, metric: Any, *labels: str, amount: float = 1.0) -> None:
        """``metric.labels(*labels).inc(amount)``, deferred to the next flush."""
        key = (metric, labels)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0.0) + amount
            self._pending += 1
            full = self._pending >= self.max_pending
        if full:
            self.flush()

    def observe(self, metric: Any, value: float, *labels: str) -> None:
        """``metric.labels(*labels).observe(value)`` for a histogram, deferred to the next flush."""
        key = (metric, labels)
        with self._lock:
            values = self._observed.get(key)
            if values is None:
                self._observed[key] = [value]
            else:
                values.append(value)
            self._pending += 1
            full = self._pending >= self.max_pending
        if full:
            self.flush()

    def _child(self, key: tuple[Any, tuple[str, ...]]) -> Any:
        child = self._children.get(key)
        if child is None:
            metric, labels = key
            child = self._children[key] = metric.labels(*labels) if labels else metric
        return child

    def flush(self) -> None:
        """Write everything gathered so far to the Prometheus values."""
        with self._lock:
            counts, self._counts = self._counts, {}
            observed, self._observed = self._observed, {}
            self._pending = 0
        for key, amount in counts.items():
            self._child(key).inc(amount)
        for key, values in observed.items():
            _observe_all(self._child(key), values)


def _observe_all(child: Any, values: list[float]) -> None:
    """Same result as ``child.observe(v)`` for each value: the sum once, each bucket hit once with its count.

    Reaches into prometheus_client's Histogram (``_upper_bounds``, ``_buckets``, ``_sum``, as ``observe`` itself
    uses them; pinned in requirements.lock, checked by a test against ``observe``); anything else is observed one
    value at a time.
    """
    bounds, buckets, total = (getattr(child, a, None) for a in ("_upper_bounds", "_buckets", "_sum"))
    if bounds is None or buckets is None or total is None:
        for v in values:
            child.observe(v)
        return
    total.inc(sum(values))
    for i, n in _Counts(bisect.bisect_left(bounds, v) for v in values if v == v).items():  # NaN: no bucket
        buckets[i].inc(n)


TALLY = Tally()
"""The process's one tally (flushed by the decision service's container)."""
