"""Following `GET /api/updates`: an async iterator of `Update`s that reconnects after a dropped
connection with `Last-Event-ID`, so the server replays exactly what was missed (no event lost,
none repeated)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TypedDict, Unpack

import anyio
import httpx
from httpx_sse import EventSource, SSEError, aconnect_sse

from aomi.client.errors import AomiConnectionError, error_from_response
from aomi.client.models import Update
from aomi.client.transport import Transport

# The server sends a keep-alive every 15 s: a connection silent for this long is dead.
SSE_READ_TIMEOUT = 45.0


async def _open(source: EventSource) -> None:
    response = source.response
    if response.is_error:
        await response.aread()
        raise error_from_response(response)


class UpdateOptions(TypedDict, total=False):
    app: str | None
    last_event_id: str | int | None
    """Resume after this event (``0``: replay the whole log); default: from the next event."""
    reconnect: bool
    """Reopen a dropped stream (default True)."""
    retry_delay: float
    """Seconds before reopening (default 0.5)."""
    max_retries: int | None
    """Reopenings in a row before `AomiConnectionError` (default None: forever)."""
    read_timeout: float
    """Seconds of silence after which the connection counts as dropped (default 45)."""


async def follow_updates(
    transport: Transport, session_id: str, **options: Unpack[UpdateOptions]
) -> AsyncGenerator[Update, None]:
    """Yield the session's updates until the caller stops iterating.

    ``last_event_id`` resumes after that event (``0``: replay the whole log); without it the
    stream starts with the next event. A dropped connection (or one the server ended) is
    reopened after ``retry_delay`` seconds with the last id seen, at most ``max_retries`` times in
    a row (None: forever); then `AomiConnectionError`. Refusals (401, 403, ...) are raised at once.
    """
    last_event_id = options.get("last_event_id")
    retry_delay, max_retries = options.get("retry_delay", 0.5), options.get("max_retries")
    last = str(last_event_id) if last_event_id is not None else None
    failures = 0
    timeout = httpx.Timeout(
        transport.http.timeout.connect, read=options.get("read_timeout", SSE_READ_TIMEOUT)
    )
    while True:
        extra = {"Accept": "text/event-stream", **({"Last-Event-ID": last} if last is not None else {})}
        try:
            async with aconnect_sse(
                transport.http,
                "GET",
                transport.url("/api/updates"),
                params=transport.params(app=options.get("app")),
                headers=transport.headers(session_id, extra),
                timeout=timeout,
            ) as source:
                await _open(source)
                async for event in source.aiter_sse():
                    if not event.data:
                        continue
                    failures = 0
                    if event.id:
                        last = event.id
                    yield Update.parse(event.id, event.data)
            problem: Exception = AomiConnectionError("the server ended the update stream")
        except (httpx.TransportError, SSEError) as exc:
            problem = exc
        failures += 1
        if not options.get("reconnect", True) or (max_retries is not None and failures > max_retries):
            if isinstance(problem, httpx.TransportError):
                raise transport.unreachable(problem) from problem
            raise AomiConnectionError(f"the update stream failed: {problem}") from problem
        await anyio.sleep(retry_delay)
