"""App factory of the decision API: ``create_app()``; uvicorn runs ``decision_service.api.main:app_factory``.

The lifespan builds the :class:`ServiceContainer` (models, policies, bureau client, outbox ...) before the first
request and, on shutdown, after uvicorn has drained in-flight requests, flushes and closes the outbox.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from decision_service.api.deps import api_key_header
from decision_service.api.errors import install_handlers
from decision_service.api.middleware import FastRoutes, RequestContextMiddleware
from decision_service.api.routes import decisions, health, prefetch
from decision_service.observability import configure_logging
from decision_service.schemas import DecisionRequest
from decision_service.services.container import ServiceContainer
from decision_service.settings import Settings, get_settings


def _openapi(app: FastAPI) -> dict[str, Any]:
    """Default OpenAPI plus the DecisionRequest schema (the route parses the raw body itself, for idempotency)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {})
    # the decision route documents its API-key header itself (openapi_extra); make sure the scheme it names exists
    components.setdefault("securitySchemes", {}).setdefault(
        "APIKeyHeader", api_key_header.model.model_dump(by_alias=True, exclude_none=True))
    comps = components.setdefault("schemas", {})
    req = DecisionRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    comps.update(req.pop("$defs", {}))
    comps["DecisionRequest"] = req
    app.openapi_schema = schema
    return schema


def create_app(settings: Settings | None = None) -> FastRoutes:
    """The ASGI app: the FastAPI app (``.app``) behind :class:`FastRoutes` (``POST /v1/decisions`` skips it)."""
    settings = settings or get_settings()
    configure_logging()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from warehouse.settings import get_settings as warehouse_settings

        container = ServiceContainer(settings, replica_path=warehouse_settings().replica_path)
        await container.start()
        app.state.container = container
        # Models, policies, TreeSHAP tables and the framework are long-lived: move them out of the cyclic GC's
        # generations so a full collection (a stop-the-world pause on the event loop) no longer walks them.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await container.stop()

    app = FastAPI(
        title="Credit decision API",
        version="1.0",
        description=(
            "Real-time credit decisions for partner channels: every eligible lender in parallel, under 3 seconds, "
            "every decision logged durably. Errors share one shape: "
            '`{"error": {"status", "code", "message", "field", "request_id"}}`.'
        ),
        lifespan=lifespan,
    )
    install_handlers(app)
    app.include_router(decisions.router)
    app.include_router(prefetch.router)
    app.include_router(health.router)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes, access_log=settings.access_log)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return FastRoutes(app, {("POST", "/v1/decisions"): decisions.decide_asgi}, max_body_bytes=settings.max_body_bytes,
                      access_log=settings.access_log)


def _die_with_supervisor() -> None:
    """In a ``uvicorn --workers`` child: be SIGKILLed when the supervisor dies, however it dies.

    A graceful stop reaches the workers through the supervisor (SIGTERM, drain, outbox flush); but a SIGKILLed
    supervisor would leave its workers serving on the port with nobody to stop them. Linux's parent-death signal
    makes the workers share the supervisor's fate, so "kill the service" means the same with one process or many
    (nothing accepted is lost either way: the answer was sent only after its outbox record was fsync'd)."""
    import multiprocessing

    parent = multiprocessing.parent_process()
    if parent is None or not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent.pid:  # the supervisor died before the signal was armed
        os.kill(os.getpid(), signal.SIGKILL)


def app_factory() -> FastRoutes:
    """Entry point for ``uvicorn --factory decision_service.api.main:app_factory``."""
    _die_with_supervisor()
    return create_app()
