"""One JSON error shape for every error the API can return, and the handlers that produce it.

``{"error": {"status", "code", "message", "field", "request_id"}}`` for validation errors, malformed JSON, auth,
404/405, 409, 413, 415, 429 and unexpected 500s alike; ``field`` is a dotted path into the body (or a header name)
when one field is to blame. The OpenAPI document lists these responses with examples (``ERROR_RESPONSES``).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from decision_service.errors import (
    DecisionServiceError,
    MalformedJsonError,
    MethodNotAllowedError,
    NotFoundError,
    RateLimitedError,
    ValidationFailedError,
)
from decision_service.observability import request_id_var
from decision_service.schemas import ErrorResponse

log = logging.getLogger(__name__)


def error_body(status: int, code: str, message: str, field: str | None, request_id: str | None = None) -> bytes:
    return orjson.dumps({"error": {"status": status, "code": code, "message": message, "field": field,
                                   "request_id": request_id or request_id_var.get()}})


def error_parts(exc: DecisionServiceError) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """(status, body, extra raw headers) of a typed error: shared by the handlers and the pure-ASGI decision route."""
    headers = []
    if isinstance(exc, RateLimitedError):
        headers.append((b"retry-after", str(max(1, round(exc.retry_after_s + 0.5))).encode()))
    return exc.status, error_body(exc.status, exc.code, exc.message, exc.field), headers


def error_response(exc: DecisionServiceError) -> Response:
    status, body, extra = error_parts(exc)
    return Response(body, status_code=status, media_type="application/json",
                    headers={k.decode(): v.decode() for k, v in extra})


def _loc(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or None


def from_validation_errors(errors: list[dict[str, Any]]) -> DecisionServiceError:
    """Map pydantic errors to our typed errors: broken JSON is 400, anything else the first violation as 422."""
    if not errors:
        return ValidationFailedError("request body is invalid")
    first = errors[0]
    if first.get("type") == "json_invalid":
        return MalformedJsonError(f"request body is not valid JSON: {first.get('ctx', {}).get('error', '')}".strip())
    field = _loc(tuple(first.get("loc", ())))
    msg = str(first.get("msg", "invalid value"))
    if first.get("type") == "extra_forbidden":
        msg = "unknown field (not part of the contract)"
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return ValidationFailedError(f"{field or 'body'}: {msg}{more}", field=field)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(DecisionServiceError)
    async def _typed(_: Request, exc: DecisionServiceError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        return error_response(from_validation_errors(list(exc.errors())))

    @app.exception_handler(ValidationError)
    async def _pyd_validation(_: Request, exc: ValidationError) -> Response:
        return error_response(from_validation_errors(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(NotFoundError("no such route"))
        if exc.status_code == 405:
            return error_response(MethodNotAllowedError("method not allowed on this route"))
        err = DecisionServiceError(str(exc.detail))
        err.status, err.code = exc.status_code, f"http_{exc.status_code}"
        return error_response(err)


def _example(status: int, code: str, message: str, field: str | None) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "message": message, "field": field,
                      "request_id": "9f1c2b8e4d3a4f6e8a7b6c5d4e3f2a1b"}}


def _resp(description: str, examples: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description,
            "content": {"application/json": {"examples": {k: {"value": v} for k, v in examples.items()}}}}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _resp("Body is not JSON.", {"malformed_json": _example(400, "malformed_json",
                                                                "request body is not valid JSON", None)}),
    401: _resp("Missing or unknown API key.", {"unknown_key": _example(401, "unauthenticated", "unknown API key",
                                                                       "X-API-Key")}),
    409: _resp("Idempotency-Key reused with a different body.", {"conflict": _example(
        409, "idempotency_conflict", "this Idempotency-Key was already used with a different request body",
        "Idempotency-Key")}),
    413: _resp("Body larger than the limit.", {"too_large": _example(413, "payload_too_large",
                                                                     "request body exceeds 16384 bytes", None)}),
    415: _resp("Body not declared as JSON.", {"media_type": _example(415, "unsupported_media_type",
                                                                     "send Content-Type: application/json", None)}),
    422: _resp("Body breaks the contract.", {
        "bad_pan": _example(422, "validation_error",
                            "applicant.pan: String should match pattern '^[A-Z]{5}[0-9]{4}[A-Z]$'", "applicant.pan"),
        "negative_amount": _example(422, "validation_error",
                                    "application.requested_amount: Input should be greater than or equal to 10000",
                                    "application.requested_amount"),
        "extra_field": _example(422, "validation_error", "applicant.nickname: unknown field (not part of the "
                                "contract)", "applicant.nickname")}),
    429: _resp("Partner's rate limit exceeded (see Retry-After).", {"rate_limited": _example(
        429, "rate_limited", "rate limit of 500 requests/s (burst 1000) exceeded for this partner", None)}),
    500: _resp("Unexpected error (details in the log under the request_id).", {"internal": _example(
        500, "internal_error", "internal error; quote the request_id to support", None)}),
}
