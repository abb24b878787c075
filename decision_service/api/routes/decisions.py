"""POST /v1/decisions: thin route over the decision orchestrator (parse, idempotency, decide, answer).

The hot path is served by :func:`decide_asgi`, a plain ASGI handler that the outermost ASGI app
(``middleware.FastRoutes``) calls directly for ``POST /v1/decisions``: profiling the warm path showed FastAPI's
middleware stack, routing and dependency solving costing ~15% of the event-loop thread, the service's bottleneck. The
FastAPI route below stays registered with the same contract, so the OpenAPI document (request schema, header
parameter, API-key security, error examples) is unchanged and any other method on the path still gets a 405; it
shares :func:`_decide` with the fast path, so both behave identically (auth → rate limit → 415 → strict parse →
idempotency → decide), and typed errors map to the one documented error shape through ``error_parts``.
"""

from __future__ import annotations

import re
import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from decision_service.api.errors import ERROR_RESPONSES, error_parts, from_validation_errors
from decision_service.errors import (
    DecisionServiceError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    ValidationFailedError,
)
from decision_service.observability import request_id_var
from decision_service.schemas import DecisionRequest, DecisionResponse
from decision_service.services.container import ServiceContainer
from decision_service.services.idempotency import StoredAnswer, body_hash

router = APIRouter(tags=["decisions"])

_IDEM_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_JSON_HEADER = (b"content-type", b"application/json")

OPENAPI_EXTRA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DecisionRequest"}}},
    },
    "parameters": [{
        "name": "Idempotency-Key", "in": "header", "required": False, "description": "Makes retries safe.",
        "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "Makes retries safe.",
                   "title": "Idempotency-Key"},
    }],
    "security": [{"APIKeyHeader": []}],
}


async def _decide(container: ServiceContainer, api_key: str | None, content_type: str, idempotency_key: str | None,
                  body: bytes, started: float) -> bytes:
    """One decision end to end; returns the JSON response body or raises a typed ``DecisionServiceError``."""
    partner_id = container.auth.authenticate(api_key)
    await container.rate_limiter.check(partner_id)
    if not content_type.startswith("application/json"):
        raise UnsupportedMediaTypeError("send Content-Type: application/json")
    try:
        req = DecisionRequest.model_validate_json(body)
    except ValidationError as exc:
        raise from_validation_errors(list(exc.errors())) from None
    idem = None
    if idempotency_key is not None:
        if not _IDEM_KEY.match(idempotency_key):
            raise ValidationFailedError("Idempotency-Key must be 1-128 characters of [A-Za-z0-9._:-]",
                                        field="Idempotency-Key")
        digest = body_hash(body)
        stored = await container.idempotency.begin(partner_id, idempotency_key, digest)
        if stored is not None:
            replay = orjson.loads(stored)
            replay["replayed"] = True
            return orjson.dumps(replay)
        idem = {"key": idempotency_key, "body_hash": digest,
                "expires_at": time.time() + container.settings.idempotency_ttl_s}
    answer: StoredAnswer | None = None
    try:
        payload = await container.orchestrator.decide(req, partner_id, request_id_var.get(), started, idem)
        if idem is not None:
            answer = StoredAnswer(idem["body_hash"], payload, idem["expires_at"])
    finally:
        if idem is not None:
            await container.idempotency.finish(partner_id, idem["key"], answer)
    return payload


async def decide_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Pure-ASGI ``POST /v1/decisions`` (see the module docstring); the wrapping middleware adds the request id,
    enforces the body limit (its ``PayloadTooLargeError`` passes through to it) and turns crashes into 500s."""
    started = time.perf_counter()
    api_key = idem_key = None
    ctype = ""
    for k, v in scope["headers"]:
        if k == b"x-api-key":
            api_key = v.decode("latin-1") or None  # empty header = no key, as with APIKeyHeader
        elif k == b"content-type":
            ctype = v.decode("latin-1")
        elif k == b"idempotency-key":
            idem_key = v.decode("latin-1")
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    headers = [_JSON_HEADER]
    try:
        payload = await _decide(scope["app"].state.container, api_key, ctype, idem_key, b"".join(chunks), started)
        status = 200
    except PayloadTooLargeError:
        raise
    except DecisionServiceError as exc:
        status, payload, extra = error_parts(exc)
        headers.extend(extra)
    except ValidationError as exc:  # a model built after parsing refused a value: same 422 as the framework path
        status, payload, extra = error_parts(from_validation_errors(list(exc.errors())))
        headers.extend(extra)
    headers.append((b"content-length", b"%d" % len(payload)))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


@router.post(
    "/v1/decisions",
    response_model=DecisionResponse,
    responses={k: v for k, v in ERROR_RESPONSES.items() if k != 405},
    openapi_extra=OPENAPI_EXTRA,
    summary="Decide a loan application with every eligible lender",
    description=(
        "Scores the application with every lender eligible for the calling partner, in parallel, and returns every "
        "offer and every lender that did not match with its reasons. The answer is durable (logged to the "
        "warehouse exactly once) before it is sent. Send an `Idempotency-Key` to make retries safe: the same key "
        "and body return the original decision (`replayed: true`), the same key with another body is a 409."
    ),
)
async def create_decision(request: Request) -> Response:
    """Framework route: documents the contract; at run time :func:`decide_asgi` answers POSTs before routing."""
    started = time.perf_counter()
    h = request.headers
    payload = await _decide(request.app.state.container, h.get("x-api-key") or None, h.get("content-type", ""),
                            h.get("idempotency-key"), await request.body(), started)
    return Response(payload, media_type="application/json")
