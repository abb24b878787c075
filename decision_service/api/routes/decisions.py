"""POST /v1/decisions: thin route over the decision orchestrator (parse, idempotency, decide, answer)."""

from __future__ import annotations

import re
import time
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from pydantic import ValidationError

from decision_service.api.deps import ContainerDep, PartnerDep
from decision_service.api.errors import ERROR_RESPONSES, from_validation_errors
from decision_service.errors import UnsupportedMediaTypeError, ValidationFailedError
from decision_service.observability import request_id_var
from decision_service.schemas import DecisionRequest, DecisionResponse
from decision_service.services.idempotency import StoredAnswer, body_hash

router = APIRouter(tags=["decisions"])

_IDEM_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

REQUEST_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DecisionRequest"}}},
    }
}


@router.post(
    "/v1/decisions",
    response_model=DecisionResponse,
    responses={k: v for k, v in ERROR_RESPONSES.items() if k != 405},
    openapi_extra=REQUEST_BODY_DOC,
    summary="Decide a loan application with every eligible lender",
    description=(
        "Scores the application with every lender eligible for the calling partner, in parallel, and returns every "
        "offer and every lender that did not match with its reasons. The answer is durable (logged to the "
        "warehouse exactly once) before it is sent. Send an `Idempotency-Key` to make retries safe: the same key "
        "and body return the original decision (`replayed: true`), the same key with another body is a 409."
    ),
)
async def create_decision(
    request: Request,
    container: ContainerDep,
    partner_id: PartnerDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", description="Makes retries safe.")] = None,
) -> Response:
    started = time.perf_counter()
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("application/json"):
        raise UnsupportedMediaTypeError("send Content-Type: application/json")
    body = await request.body()
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
            return Response(orjson.dumps(replay), media_type="application/json")
        idem = {"key": idempotency_key, "body_hash": digest,
                "expires_at": time.time() + container.settings.idempotency_ttl_s}
    answer: StoredAnswer | None = None
    try:
        result = await container.orchestrator.decide(req, partner_id, request_id_var.get(), started, idem)
        payload = orjson.dumps(result)
        if idem is not None:
            answer = StoredAnswer(idem["body_hash"], payload, idem["expires_at"])
    finally:
        if idem is not None:
            await container.idempotency.finish(partner_id, idem["key"], answer)
    return Response(payload, media_type="application/json")
