"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from aomi.api.deps import ServicesDep
from aomi.db.engine import check_ready

router = APIRouter(tags=["operations"])


@router.get("/health", response_class=PlainTextResponse)
async def health() -> str:
    """Answers ``OK`` while the process serves requests."""
    return "OK"


@router.get(
    "/ready",
    response_class=PlainTextResponse,
    responses={503: {"description": "Not ready; the reason as text", "content": {"text/plain": {}}}},
)
async def ready(services: ServicesDep) -> PlainTextResponse:
    """200 `ready` when the database answers, holds the schema this server expects and takes
    writes; else 503 with the reason (for load balancers and orchestrators)."""
    problem = await check_ready(services.engine, services.schema_revision)
    if problem is not None:
        return PlainTextResponse(problem, status_code=503, headers={"Retry-After": "2"})
    return PlainTextResponse("ready")
