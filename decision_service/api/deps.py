"""FastAPI dependencies as ``Annotated`` aliases, so routes stay one-liners about what they need."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from decision_service.services.container import ServiceContainer
from decision_service.settings import Settings

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="Per-partner API key (ck_<id>_<secret>), issued by the marketplace.")


async def get_container(request: Request) -> ServiceContainer:
    """``async`` on purpose: FastAPI runs plain ``def`` dependencies in its thread pool (a thread hop per request)."""
    return request.app.state.container


ContainerDep = Annotated[ServiceContainer, Depends(get_container)]


async def get_app_settings(container: ContainerDep) -> Settings:
    return container.settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


async def authenticated_partner(container: ContainerDep, api_key: Annotated[str | None, Security(api_key_header)]
                                ) -> str:
    """The partner behind the API key, after its rate limit (401 and 429 both happen before any work)."""
    partner_id = container.auth.authenticate(api_key)
    await container.rate_limiter.check(partner_id)
    return partner_id


PartnerDep = Annotated[str, Depends(authenticated_partner)]
