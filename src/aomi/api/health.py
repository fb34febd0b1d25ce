"""Liveness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

router = APIRouter(tags=["operations"])


@router.get("/health", response_class=PlainTextResponse)
async def health() -> str:
    """Answers ``OK`` while the process serves requests."""
    return "OK"
