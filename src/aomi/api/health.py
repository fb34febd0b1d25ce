"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from aomi.api.deps import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/health", response_class=PlainTextResponse)
async def health() -> str:
    """Answers ``OK`` while the process serves requests."""
    return "OK"


@router.get("/ready", response_class=PlainTextResponse)
async def ready(services: ServicesDep) -> PlainTextResponse:
    """200 `ready` when the database answers, else 503 (for load balancers and orchestrators)."""
    try:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError):
        return PlainTextResponse("database unavailable", status_code=503)
    return PlainTextResponse("ready")
