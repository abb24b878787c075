"""Decision-service settings: one typed object, read from the environment (prefix ``CREDIT_DECISION_``).

Everything that differs between a laptop, CI and production (where the bureau lives, whether Redis exists, how long a
model may take) is a setting, so tests start real processes with a different environment instead of patching code.
Other packages of ``decision_service`` may add fields here (small additive edits).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent


class Settings(BaseSettings):
    """All knobs of the real-time decision service, the bureau client, the decision log and the registry."""

    model_config = SettingsConfigDict(env_prefix="CREDIT_DECISION_", extra="ignore")

    # --- models and policies (shared with the models and policy engineers) ---
    model_dir: Path = REPO_ROOT / "data" / "models"
    """Root of the model registry (versioned artifacts and the champion/challenger pointer files)."""

    policy_dir: Path = PACKAGE_DIR / "policy" / "policies"
    """Directory of the versioned per-lender policy YAML files."""

    # --- API ---
    api_keys_path: Path = REPO_ROOT / "data" / "api_keys.json"
    """Hashed per-partner API keys (salted SHA-256); the plain keys are shown once, when they are created."""

    max_body_bytes: int = Field(default=16_384, ge=256)
    """Largest accepted request body; anything bigger is refused with 413 before it is parsed."""

    rate_limit_per_s: float = Field(default=500.0, gt=0)
    """Token-bucket refill rate per partner (requests per second)."""

    rate_limit_burst: int = Field(default=1000, ge=1)
    """Token-bucket capacity per partner (the largest burst accepted at once)."""

    idempotency_ttl_s: int = Field(default=86_400, ge=60)
    """How long an Idempotency-Key is remembered (its original decision is replayed during this window)."""

    access_log: bool = True
    """One JSON log line per request (with request_id, status and duration)."""

    redis_url: str | None = None
    """Redis for shared rate limits, bureau cache and idempotency; None = the in-process embedded defaults."""

    redis_timeout_s: float = 0.05
    """Socket timeout for Redis calls; a slower Redis is treated as down and the service degrades to in-process."""

    workers: int = Field(default=1, ge=1, le=16)
    """API worker processes behind one port (``uvicorn --workers``; ``python -m decision_service serve`` and the
    Procfile read it). One process is bound by the GIL to about one core; on the 2-core machine 2 workers serve
    about twice the decisions. Every worker writes its own outbox segment (named by its pid), which the single
    loader drains like any other. Workers share rate limits, the bureau cache and idempotency keys only through
    Redis, so more than one worker requires ``redis_url`` (start-up refuses otherwise)."""

    # --- decision execution ---
    model_timeout_s: float = Field(default=0.5, gt=0)
    """Per-lender scoring budget; past it the rule-based fallback answers for that lender (fallback_used)."""

    decision_deadline_s: float = Field(default=2.5, gt=0)
    """Budget for one decision from the request's arrival to the end of scoring, kept below the partners' 3-second
    promise (the rest is the log's fsync and the answer). A request whose lenders are not decided by then (it waited
    behind a hanging model or an overload) is answered by the fallback (``fallback_used``, reason ``deadline``)."""

    scoring_threads: int = Field(default=4, ge=1)
    """Threads that run model scoring (numpy/LightGBM release the GIL), so a hanging model cannot block the loop."""

    gil_switch_interval_s: float = Field(default=0.0005, gt=0)
    """``sys.setswitchinterval`` of the API process. Python's 5 ms default makes the event loop and the scoring
    threads wait up to 5 ms for each other at every hand-over; a shorter interval cuts that latency."""

    scoring_max_batch: int = Field(default=64, ge=1)
    """Most requests scored together in one micro-batch (requests arriving during a batch form the next one)."""

    scoring_max_inflight: int = Field(default=1, ge=1)
    """Micro-batches scored at the same time. While all are busy, arrivals queue into the next, bigger batch: fewer
    batches cost less per decision (per-call overhead of the model, policy and thread hand-over), more batches in
    flight cost a request less waiting. Measured on the warm path (2 workers, 3 lenders, side by side): 1 slot
    1.28 ms of CPU per decision against 1.79 ms with 2 (medians of six runs each). A batch whose model hangs frees
    its slot at ``model_timeout_s``, and requests that queue past ``decision_deadline_s`` get the fallback, so a
    hanging model slows answers but cannot push them past the 3-second promise."""

    metrics_flush_s: float = Field(default=1.0, gt=0)
    """How often the hot path's tallied metrics (decisions, stage and lender latencies, cache hits, HTTP statuses)
    are written to the Prometheus values. A scrape flushes its own worker first; with several workers the others'
    figures lag by at most this long. Per-request Prometheus updates cost ~7% of the event loop with several
    workers (locked writes into mmap'd files), a tally costs a dict addition."""

    # --- bureau ---
    bureau_url: str = "http://127.0.0.1:8701"
    """Base URL of the credit bureau (the simulator in development)."""

    bureau_timeout_s: float = Field(default=0.95, gt=0)
    """Timeout for one bureau HTTP call (the simulator answers in 400-800 ms)."""

    bureau_budget_s: float = Field(default=1.9, gt=0)
    """Total time the bureau may take including retries; after it the decision uses fallback features."""

    bureau_retries: int = Field(default=1, ge=0, le=3)
    """Bounded retries for a failed bureau call (only while the budget allows)."""

    breaker_fail_max: int = Field(default=5, ge=1)
    """Consecutive bureau failures that open the circuit breaker."""

    breaker_reset_s: float = Field(default=10.0, gt=0)
    """Seconds the breaker stays open before one trial call is let through."""

    bureau_cache_ttl_s: int = Field(default=86_400, ge=1)
    """Age after which a cached bureau report is not used any more (checked at read time)."""

    # --- durable decision log ---
    outbox_dir: Path = REPO_ROOT / "data" / "outbox"
    """Directory of the fsync'd append-only outbox segments the loader moves into the warehouse."""

    outbox_group_commit_ms: float = Field(default=0.0, ge=0)
    """Extra group-commit window before each fsync. 0 (default): natural group commit only, i.e. records arriving
    while an fsync runs share the next one; measured at 200 req/s a 2 ms window added ~3.5 ms to every answer."""

    outbox_segment_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    """Size after which the writer starts a new outbox segment."""

    loader_poll_s: float = Field(default=0.5, gt=0)
    """How often the loader looks for new outbox records."""

    replica_publish_interval_s: float = Field(default=30.0, gt=0)
    """Most frequent replica publication; the copilot's replica lags the decisions by at most about this long."""

    @model_validator(mode="after")
    def _workers_share_state_through_redis(self) -> Settings:
        """In-process caches, buckets and idempotency keys are per process: with several workers a retried
        Idempotency-Key could be decided twice and a prefetched report would be cached in one worker only."""
        if self.workers > 1 and not self.redis_url:
            raise ValueError("workers > 1 needs redis_url: API processes share rate limits, the bureau cache and "
                             "idempotency keys only through Redis")
        return self


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings; tests change the environment and call ``get_settings.cache_clear()``."""
    return Settings()
