"""Baseline for bench/sse_latency.py: the least a Starlette SSE fan-out can do.

No database, no auth, no log: POST /pub puts the body on every subscriber's queue; GET /sub
streams `id:`/`data:` frames. Run by the benchmark as `uvicorn bench.baseline_sse:app`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

subscribers: set[asyncio.Queue[bytes]] = set()
counter = 0


async def sub(request: Request) -> StreamingResponse:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    subscribers.add(queue)

    async def frames() -> AsyncIterator[bytes]:
        try:
            yield b": ready\n\n"
            while True:
                yield await queue.get()
        finally:
            subscribers.discard(queue)

    return StreamingResponse(frames(), media_type="text/event-stream")


async def pub(request: Request) -> PlainTextResponse:
    global counter
    counter += 1
    frame = b"id: %d\ndata: " % counter + await request.body() + b"\n\n"
    for queue in subscribers:
        queue.put_nowait(frame)
    return PlainTextResponse(str(len(subscribers)))


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("OK")


app = Starlette(routes=[Route("/sub", sub), Route("/pub", pub, methods=["POST"]), Route("/health", health)])
