"""A credit-bureau simulator: its own small FastAPI app, reached over real HTTP like the real bureau would be.

It behaves like a slow, sometimes failing external dependency (400-800 ms latency, a configurable failure rate, an
outage mode that either refuses or hangs, and a "format change" mode that reports dpd30_count_12m more
conservatively, as in the world's ``bureau_format_change`` story). Reports are derived deterministically from the PAN,
so the same applicant always gets the same report, or are looked up from the world when a warehouse replica is given.

Run: ``python -m decision_service.bureau.simulator --port 8701 [--failure-rate 0.05] [--outage hang] [--replica P]``.
The mode can be changed at run time with ``PUT /admin/config`` (the fault tests use it).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import random
import re
import threading
import uuid
from pathlib import Path
from typing import Any, Literal

import numpy as np
import uvicorn
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from decision_service.schemas import PAN_PATTERN

REPORT_FORMAT = "v2"
CHANGED_FORMAT = "v3"


class SimulatorConfig(BaseModel):
    """Behaviour of the simulated bureau."""

    model_config = ConfigDict(extra="forbid")

    latency_min_ms: float = Field(default=400, ge=0)
    latency_max_ms: float = Field(default=800, ge=0)
    failure_rate: float = Field(default=0.0, ge=0, le=1)
    outage: Literal["none", "error", "hang"] = "none"
    format_change: bool = False


def synthetic_report(pan: str, *, format_change: bool = False) -> dict[str, Any]:
    """A plausible bureau report drawn from a generator seeded by the PAN (same PAN, same report).

    A latent creditworthiness drives score, delinquencies, enquiries and utilisation together, so the reports carry
    the correlations a model expects; about 12% are thin files (no score), which is a state, not a zero.
    """
    seed = int.from_bytes(hashlib.sha256(pan.encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    z = float(rng.standard_normal())
    thin = bool(rng.random() < 0.12)
    score = None if thin else int(np.clip(round(715 + 75 * z + rng.normal(0, 20)), 300, 900))
    dpd30 = int(rng.poisson(max(0.03, 0.5 - 0.35 * z)))
    dpd90 = int(rng.poisson(max(0.01, 0.12 - 0.12 * z)))
    if format_change:
        dpd30 = round(dpd30 * 1.6 + 1)  # v3 reports 30+ DPD more conservatively for the same behaviour
    secured = 0 if thin else int(rng.poisson(0.6))
    unsecured = int(rng.poisson(0.4)) if thin else int(rng.poisson(2.2))
    return {
        "report_id": f"BR-{uuid.uuid4().hex[:16]}",
        "pulled_at": dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(),
        "bureau_score": score,
        "dpd30_count_12m": dpd30,
        "dpd90_count_12m": dpd90,
        "enquiries_90d": int(rng.poisson(max(0.3, 1.8 - 0.8 * z))),
        "utilisation_pct": round(float(np.clip(45 - 18 * z + rng.normal(0, 12), 0, 130)), 1),
        "oldest_account_age_months": 0 if thin else int(np.clip(rng.normal(70 + 20 * z, 30), 3, 360)),
        "secured_accounts": secured,
        "unsecured_accounts": unsecured,
        "total_outstanding": round(float(rng.lognormal(11.5, 1.0)) * (secured + unsecured), 2),
        "thin_file": thin,
        "report_format_version": CHANGED_FORMAT if format_change else REPORT_FORMAT,
    }


class WorldLookup:
    """Reports looked up from a warehouse replica: the latest pull for the applicant with that PAN.

    Opens the replica read-only once; DuckDB cursors are per call, so concurrent lookups are safe.
    """

    _SQL = """
        SELECT b.* EXCLUDE (applicant_id, application_id)
        FROM bureau_reports b JOIN applicants a USING (applicant_id)
        WHERE a.pan = ? ORDER BY b.pulled_at DESC LIMIT 1
    """

    def __init__(self, replica: Path) -> None:
        import duckdb

        self._con = duckdb.connect(str(replica), read_only=True)
        self._lock = threading.Lock()

    def lookup(self, pan: str) -> dict[str, Any] | None:
        with self._lock:
            cur = self._con.cursor()
        try:
            row = cur.execute(self._SQL, [pan]).fetchone()
            if row is None:
                return None
            names = [d[0] for d in cur.description]
        finally:
            cur.close()
        report = dict(zip(names, row, strict=True))
        report["report_id"] = f"BR-{uuid.uuid4().hex[:16]}"
        report["pulled_at"] = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat()
        return report


def create_app(config: SimulatorConfig | None = None, replica: Path | None = None) -> FastAPI:
    """Build the simulator app; ``config`` is mutable at run time through ``PUT /admin/config``."""
    state: dict[str, Any] = {"config": config or SimulatorConfig(), "requests": 0}
    world = WorldLookup(replica) if replica else None
    app = FastAPI(title="Credit bureau simulator", version="1.0")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/admin/config")
    async def get_config() -> dict[str, Any]:
        return {**state["config"].model_dump(), "requests": state["requests"]}

    @app.put("/admin/config")
    async def put_config(new: SimulatorConfig) -> SimulatorConfig:
        state["config"] = new
        return new

    @app.get("/v1/reports/{pan}")
    async def report(pan: str) -> dict[str, Any]:
        state["requests"] += 1
        cfg: SimulatorConfig = state["config"]
        if not re.fullmatch(PAN_PATTERN, pan):
            raise HTTPException(status_code=422, detail="malformed PAN")
        if cfg.outage == "hang":
            await asyncio.sleep(3600)
        if cfg.outage == "error":
            raise HTTPException(status_code=503, detail="bureau outage")
        await asyncio.sleep(random.uniform(cfg.latency_min_ms, max(cfg.latency_min_ms, cfg.latency_max_ms)) / 1000)
        if random.random() < cfg.failure_rate:
            raise HTTPException(status_code=503, detail="injected bureau failure")
        found = await asyncio.to_thread(world.lookup, pan) if world else None
        if found is None:
            return synthetic_report(pan, format_change=cfg.format_change)
        if cfg.format_change and found.get("dpd30_count_12m") is not None:
            found["dpd30_count_12m"] = round(found["dpd30_count_12m"] * 1.6 + 1)
            found["report_format_version"] = CHANGED_FORMAT
        return found

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8701)
    parser.add_argument("--latency-min-ms", type=float, default=400)
    parser.add_argument("--latency-max-ms", type=float, default=800)
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--outage", choices=["none", "error", "hang"], default="none")
    parser.add_argument("--format-change", action="store_true")
    parser.add_argument("--replica", type=Path, default=None, help="look reports up in this warehouse replica")
    args = parser.parse_args(argv)
    config = SimulatorConfig(
        latency_min_ms=args.latency_min_ms, latency_max_ms=args.latency_max_ms, failure_rate=args.failure_rate,
        outage=args.outage, format_change=args.format_change,
    )
    replica = args.replica if args.replica and args.replica.exists() else None
    uvicorn.run(create_app(config, replica), host=args.host, port=args.port, log_level="warning",
                timeout_graceful_shutdown=1)


if __name__ == "__main__":
    main()
