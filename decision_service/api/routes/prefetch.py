"""POST /v1/prefetch: warm the bureau cache when a user opens the partner's app."""

from __future__ import annotations

from fastapi import APIRouter

from decision_service.api.deps import ContainerDep, PartnerDep
from decision_service.api.errors import ERROR_RESPONSES
from decision_service.schemas import PrefetchRequest, PrefetchResponse

router = APIRouter(tags=["decisions"])


@router.post("/v1/prefetch", response_model=PrefetchResponse,
             responses={k: v for k, v in ERROR_RESPONSES.items() if k in (400, 401, 413, 422, 429, 500)},
             summary="Warm the bureau cache for an applicant",
             description="Fetches the applicant's bureau report unless a fresh one (under 24 h) is cached, so the "
                         "decision that follows takes the warm path. Nothing is written to the warehouse.")
async def prefetch(body: PrefetchRequest, container: ContainerDep, partner_id: PartnerDep) -> PrefetchResponse:
    result = await container.bureau.get(body.pan)
    return PrefetchResponse(cached=result.report is not None, source=result.source, age_s=result.age_s)
