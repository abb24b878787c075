"""HTTP API: ``POST /v1/ask`` (team-authenticated) and ``POST /v1/feedback``, ``GET /healthz``.

Authentication: ``Authorization: Bearer <token>``; ``CREDIT_COPILOT_API_TOKENS`` maps each token to the one team it
may ask for, so a token cannot read another team's data by naming it. Errors share the decision API's shape
``{"error": {"status", "code", "message", "field", "request_id"}}``.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from copilot.cli import answer_json
from copilot.errors import AuthError, CopilotError, FeedbackError, ForbiddenTeamError
from copilot.models import Answer
from copilot.pipeline import Copilot
from copilot.settings import CopilotSettings, get_settings


class AskBody(BaseModel):
    question: str = Field(max_length=100_000)
    team: str | None = Field(None, description="defaults to the token's team; any other team is refused")
    user: str = "api"
    backend: Literal["auto", "semantic", "local", "openai"] | None = None


class FeedbackBody(BaseModel):
    question: str = Field(min_length=1, max_length=2_000)
    sql: str = Field(min_length=1, max_length=20_000, description="the SQL of the answer being judged")
    action: Literal["accept", "correct"]
    corrected_sql: str | None = Field(None, max_length=20_000)
    user: str = "api"


def _error(status: int, code: str, message: str, field: str | None, request_id: str) -> JSONResponse:
    body = {"error": {"status": status, "code": code, "message": message, "field": field, "request_id": request_id}}
    return JSONResponse(body, status_code=status, headers={"X-Request-ID": request_id})


def _team_for(request: Request, settings: CopilotSettings) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError("missing bearer token", field="Authorization")
    for known, team in settings.api_tokens.items():
        if secrets.compare_digest(known.encode(), token.strip().encode()):
            return team
    raise AuthError("invalid token", field="Authorization")


def create_app(copilot: Copilot | None = None, settings: CopilotSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Credit copilot", version="1")
    state: dict[str, Any] = {"copilot": copilot}

    def get_copilot() -> Copilot:
        if state["copilot"] is None:
            state["copilot"] = Copilot(settings)
        return state["copilot"]

    @app.middleware("http")
    async def request_id(request: Request, call_next: Any) -> Any:
        request.state.request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    @app.exception_handler(CopilotError)
    async def copilot_error(request: Request, err: CopilotError) -> JSONResponse:
        return _error(err.status, err.code, err.message, err.field, request.state.request_id)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return _error(422, "invalid_request", first.get("msg", "invalid request"), field, request.state.request_id)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> JSONResponse:
        return _error(500, "internal_error", "unexpected error; see the server log", None, request.state.request_id)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/ask")
    async def ask(body: AskBody, request: Request) -> dict[str, Any]:
        team = _team_for(request, settings)
        if body.team is not None and body.team != team:
            raise ForbiddenTeamError(f"this token is for team {team!r}, not {body.team!r}")
        answer: Answer = await run_in_threadpool(get_copilot().ask, body.question, team, body.user,
                                                 backend=body.backend)
        return {**answer_json(answer), "request_id": request.state.request_id}

    @app.post("/v1/feedback")
    async def feedback(body: FeedbackBody, request: Request) -> dict[str, Any]:
        """Accept an answer (verified after re-validation) or submit corrected SQL (a candidate for review)."""
        from copilot import feedback as fb

        team = _team_for(request, settings)
        answer = Answer(question=body.question, team=team, user=body.user, sql=body.sql)
        if body.action == "accept":
            stored = await run_in_threadpool(fb.accept, get_copilot(), answer, body.user)
            return {"query_id": stored.query_id, "status": stored.status, "request_id": request.state.request_id}
        if not body.corrected_sql:
            raise FeedbackError("corrected_sql is required to correct an answer", field="corrected_sql")
        stored, page = await run_in_threadpool(fb.correct, get_copilot(), answer, body.corrected_sql, body.user)
        return {"query_id": stored.query_id, "status": stored.status, "columns": page.columns, "rows": page.rows,
                "request_id": request.state.request_id}

    return app
