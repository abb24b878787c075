"""Pure-ASGI middleware: request id, body size limit, one JSON access-log line, metrics, last-resort 500.

Pure ASGI (not BaseHTTPMiddleware) because it sits on the hot path of every decision: it adds microseconds, not a
task per request. It stamps ``X-Request-ID`` (the caller's, when it sent a sane one, else a new one) on every
response, including errors raised before routing (413) and crashes (500), and puts it in the log context.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from starlette.requests import ClientDisconnect

from decision_service.api.errors import error_body
from decision_service.errors import PayloadTooLargeError
from decision_service.observability import HTTP_REQUESTS, TALLY, request_id_var
from decision_service.services.ids import new_request_id

log = logging.getLogger("decision_service.access")

_RID_OK = re.compile(rb"^[A-Za-z0-9._-]{8,64}$")
_KNOWN_ROUTES = {"/v1/decisions", "/v1/prefetch", "/v1/ping", "/healthz", "/readyz", "/metrics"}
class RequestContextMiddleware:
    def __init__(self, app: Any, *, max_body_bytes: int, access_log: bool = True) -> None:
        """``app``: the FastAPI app (as a middleware of its stack), or a plain ASGI handler of a fast route (wrapped
        by :class:`FastRoutes`)."""
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        rid = None
        length = None
        for k, v in scope["headers"]:
            if k == b"x-request-id" and _RID_OK.match(v):
                rid = v.decode()
            elif k == b"content-length":
                length = int(v) if v.isdigit() else None
        rid = rid or new_request_id()  # not uuid4: that reads the entropy pool (a syscall) on every request
        token = request_id_var.set(rid)
        rid_header = (b"x-request-id", rid.encode())
        status_holder = [0]
        started = [False]

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started[0] = True
                status_holder[0] = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        async def reply(status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None) -> None:
            await send_wrapper({"type": "http.response.start", "status": status,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(body)).encode()), *(extra or [])]})
            await send_wrapper({"type": "http.response.body", "body": body})

        limit = self.max_body_bytes
        received = [0]

        async def receive_limited() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "http.request":
                received[0] += len(message.get("body", b""))
                if received[0] > limit:
                    raise PayloadTooLargeError(f"request body exceeds {limit} bytes")
            return message

        try:
            if length is not None and length > limit:
                await reply(413, error_body(413, "payload_too_large", f"request body exceeds {limit} bytes", None,
                                            rid), [(b"connection", b"close")])
            else:
                await self.app(scope, receive_limited, send_wrapper)
        except ClientDisconnect:
            pass  # the caller hung up mid-request (load generators do at the end of a run): nothing to answer
        except PayloadTooLargeError as exc:
            if not started[0]:
                await reply(413, error_body(413, exc.code, exc.message, None, rid), [(b"connection", b"close")])
        except Exception:
            log.exception("unhandled error")
            if not started[0]:
                await reply(500, error_body(500, "internal_error", "internal error; quote the request_id to support",
                                            None, rid))
        finally:
            path = scope["path"]
            route = path if path in _KNOWN_ROUTES else "other"
            TALLY.inc(HTTP_REQUESTS, route, str(status_holder[0]))
            if self.access_log:
                log.info("request", extra={"method": scope["method"], "path": path, "status": status_holder[0],
                                           "duration_ms": round((time.perf_counter() - t0) * 1000, 3)})
            request_id_var.reset(token)


class FastRoutes:
    """The outermost ASGI app: hot routes go to a plain ASGI handler under this module's request middleware, all
    else to the framework app unchanged.

    Why outermost: FastAPI's own stack (error, telemetry and body-limit middlewares, routing, dependency solving)
    cost ~15% of the event-loop thread on the warm decision path, the service's bottleneck. A fast route gets the
    same request id, body limit, access log, metrics and 500 handling (``RequestContextMiddleware``) and
    ``scope["app"]`` set to the framework app, as Starlette would set it.
    """

    def __init__(self, app: Any, routes: dict[tuple[str, str], Any], *, max_body_bytes: int,
                 access_log: bool = True) -> None:
        self.app = app
        self.routes = {key: RequestContextMiddleware(handler, max_body_bytes=max_body_bytes, access_log=access_log)
                       for key, handler in routes.items()}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            fast = self.routes.get((scope["method"], scope["path"]))
            if fast is not None:
                scope["app"] = self.app
                await fast(scope, receive, send)
                return
        await self.app(scope, receive, send)
