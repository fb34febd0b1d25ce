"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from aomi.api.auth import bearer_matches
from aomi.api.deps import ServicesDep
from aomi.db.engine import check_ready
from aomi.errors import MetricsTokenInvalid

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


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={401: {"description": "`AOMI_METRICS_TOKEN` is set and the bearer token is not it"}},
)
async def metrics(request: Request, services: ServicesDep) -> Response:
    """Prometheus metrics in the text format: requests by route and status, latency histograms,
    turns by status, tool calls, sessions in memory, SSE subscribers, key cache lookups and
    database connections in use. With `AOMI_METRICS_TOKEN` set it needs
    `Authorization: Bearer <token>`."""
    token = services.settings.metrics_token
    if token is not None and not bearer_matches(request.headers, token):
        raise MetricsTokenInvalid("the metrics need Authorization: Bearer <AOMI_METRICS_TOKEN>")
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
