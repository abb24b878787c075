"""Typed errors of the decision service, each mapped to one HTTP status and one stable machine-readable code.

Partners program against ``error.code``; the message is for humans. Every error response (validation, auth, rate
limit, idempotency, size, routing, crashes) is rendered from one of these classes into the one JSON shape
``{"error": {"status", "code", "message", "field", "request_id"}}`` by ``decision_service.api.errors``.
"""

from __future__ import annotations


class DecisionServiceError(Exception):
    """Base class: an error with an HTTP status, a stable code and optionally the offending field path."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailedError(DecisionServiceError):
    """The body is well-formed JSON but breaks the contract (types, bounds, formats, unknown fields)."""

    status = 422
    code = "validation_error"


class MalformedJsonError(DecisionServiceError):
    """The body is not JSON at all."""

    status = 400
    code = "malformed_json"


class AuthenticationError(DecisionServiceError):
    """Missing or unknown API key."""

    status = 401
    code = "unauthenticated"


class NotFoundError(DecisionServiceError):
    """No such route or resource."""

    status = 404
    code = "not_found"


class MethodNotAllowedError(DecisionServiceError):
    """The route exists but not for this HTTP method."""

    status = 405
    code = "method_not_allowed"


class IdempotencyConflictError(DecisionServiceError):
    """The Idempotency-Key was already used with a different body (or is still being processed)."""

    status = 409
    code = "idempotency_conflict"


class PayloadTooLargeError(DecisionServiceError):
    """The body exceeds ``max_body_bytes``."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(DecisionServiceError):
    """The body is not declared as JSON."""

    status = 415
    code = "unsupported_media_type"


class RateLimitedError(DecisionServiceError):
    """The partner's token bucket is empty."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ServiceUnavailableError(DecisionServiceError):
    """The service is starting or shutting down, or a dependency it cannot work without is missing."""

    status = 503
    code = "unavailable"


class InternalError(DecisionServiceError):
    """An unexpected failure; details are in the log under the same request_id, never in the response."""

    status = 500
    code = "internal_error"


class BureauError(Exception):
    """The bureau did not deliver a usable report (timeout, HTTP error, malformed body, open breaker)."""


class BureauUnavailableError(BureauError):
    """The circuit breaker is open: the bureau is not called at all until its reset timeout passes."""


class OutboxClosedError(RuntimeError):
    """A record was appended after the outbox was closed (during shutdown)."""
