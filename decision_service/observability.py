"""Structured JSON logs carrying the request_id, and the Prometheus metrics of the decision service.

The request_id lives in a context variable set by the request middleware, so every log line written while serving a
request (the route, the bureau client, the outbox) carries it without being passed around.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import sys
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
