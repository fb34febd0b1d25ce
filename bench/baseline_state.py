"""Baseline for bench/state_throughput.py: a bare Starlette app serving a fixed snapshot from memory."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SNAPSHOT = os.environ.get("BENCH_SNAPSHOT", '{"messages": []}').encode()


async def state(request: Request) -> Response:
    return Response(SNAPSHOT, media_type="application/json")


async def health(request: Request) -> Response:
    return Response(b"OK")


app = Starlette(routes=[Route("/api/state", state), Route("/health", health)])
