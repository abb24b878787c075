"""Operations: liveness, readiness (models loaded, warehouse reachable), Prometheus metrics, a trivial ping."""

from __future__ import annotations

import os

import orjson
from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from decision_service.api.deps import ContainerDep
from decision_service.api.errors import error_body

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process serves HTTP")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/v1/ping", summary="Trivial endpoint (the benchmark's baseline through the same server setup)")
async def ping() -> Response:
    return Response(b'{"ok":true}', media_type="application/json")


@router.get("/readyz", summary="Readiness: models and policies loaded, warehouse replica and outbox reachable",
            responses={503: {"description": "Not ready; the message lists the failing checks."}})
async def readyz(container: ContainerDep) -> Response:
    models = container.models_status()
    models_ok = all(not v.startswith("no ") for v in models.values()) and bool(models)
    replica = container.replica_path
    warehouse_ok = replica is not None and replica.exists()
    if warehouse_ok:
        try:
            import duckdb

            duckdb.connect(str(replica), read_only=True).close()
        except Exception:
            warehouse_ok = False
    outbox_ok = os.access(container.settings.outbox_dir, os.W_OK)
    checks = {"models": models_ok, "warehouse": warehouse_ok, "outbox": outbox_ok}
    if all(checks.values()):
        return Response(orjson.dumps({"status": "ready", "checks": checks, "models": models}),
                        media_type="application/json")
    failing = ", ".join(k for k, ok in checks.items() if not ok)
    detail = "; ".join(f"{k}: {v}" for k, v in models.items())
    return Response(error_body(503, "not_ready", f"not ready: {failing} (models: {detail})", None), status_code=503,
                    media_type="application/json")


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(container: ContainerDep) -> Response:
    from decision_service.observability import BREAKER_STATE, TALLY

    TALLY.flush()

    state = await container.bureau_client.breaker_state()
    BREAKER_STATE.set({"closed": 0, "half-opened": 1, "opened": 2}.get(state, 0))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # several workers: sum every worker's metrics files
        from prometheus_client import CollectorRegistry, multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
