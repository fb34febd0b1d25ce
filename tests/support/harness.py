"""An in-process server for API tests: the real app and lifespan, driven through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from aomi.agent.models import ModelRegistry, default_model_registry
from aomi.server import create_app
from aomi.services import Services
from aomi.settings import Settings


class SlowModel:
    """A FunctionModel that streams a partial answer, then waits until released or cancelled."""

    def __init__(self, partial: str = "Partial answer", rest: str = " and the rest.") -> None:
        self.partial, self.rest = partial, rest
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.cancelled = False
        self.model = FunctionModel(self._respond, stream_function=self._stream, model_name="slow")

    def _respond(self, messages: list[ModelMessage], info: AgentInfo) -> Any:
        raise AssertionError("the server streams turns")

    async def _stream(
        self, messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        yield self.partial
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        yield self.rest


def write_app(
    apps_dir: Path,
    name: str,
    *,
    public: bool = False,
    models: tuple[str, ...] = ("offline",),
    tools: tuple[str, ...] = ("get_token_price",),
) -> None:
    app_dir = apps_dir / name
    app_dir.mkdir(parents=True, exist_ok=True)
    allowed = ", ".join(f'"{m}"' for m in models)
    tool_list = ", ".join(f'"{t}"' for t in tools)
    (app_dir / "app.toml").write_text(
        f'name = "{name}"\ndescription = "test App {name}"\npublic = {str(public).lower()}\n'
        f'preamble = "You are {name}."\ntools = [{tool_list}]\n'
        f'[models]\ndefault = "{models[0]}"\nallowed = [{allowed}]\n'
    )


@dataclass
class Harness:
    client: httpx.AsyncClient
    services: Services
    settings: Settings

    async def issue_key(self, *apps: str, expires_ms: int | None = None) -> str:
        issued = await self.services.keys.create(list(apps), expires_ms=expires_ms)
        return issued.key

    async def chat(
        self, sid: str, message: str, *, app: str | None = None, key: str | None = None, **params: str
    ) -> httpx.Response:
        query: dict[str, str] = {"message": message, **params}
        if app is not None:
            query["app"] = app
        return await self.client.post("/api/chat", params=query, headers=headers(sid, key))

    async def state(
        self, sid: str, *, app: str | None = None, key: str | None = None, **params: str
    ) -> httpx.Response:
        query = dict(params)
        if app is not None:
            query["app"] = app
        return await self.client.get("/api/state", params=query, headers=headers(sid, key))

    async def wait_idle(
        self, sid: str, *, app: str | None = None, key: str | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        return await poll(
            lambda: self.state(sid, app=app, key=key), lambda body: not body["is_processing"], timeout
        )


def headers(sid: str | None, key: str | None = None) -> dict[str, str]:
    h: dict[str, str] = {}
    if sid is not None:
        h["X-Session-Id"] = sid
    if key is not None:
        h["AOMI-APP-KEY"] = key
    return h


async def poll(
    fetch: Callable[[], Awaitable[httpx.Response]],
    done: Callable[[dict[str, Any]], bool],
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Poll until ``done(body)`` holds; fail with the last body at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        async with asyncio.timeout(timeout):  # a request that never answers fails here too
            response = await fetch()
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if done(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in {timeout} s; last body: {body}")
        await asyncio.sleep(0.01)


async def until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds; fail naming ``what`` at the deadline (a test never spins
    for ever: a hung test would stall the whole run)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not reached in {timeout} s"
        await asyncio.sleep(0.01)


def new_id() -> str:
    return str(uuid.uuid4())


@asynccontextmanager
async def running(settings: Settings, models: ModelRegistry | None = None) -> AsyncIterator[Harness]:
    app = create_app(settings, models=models or default_model_registry())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://aomi.test") as client:
            yield Harness(client, app.state.services, settings)


@dataclass
class LiveServer:
    """A real uvicorn server in this event loop, for streaming (SSE) tests."""

    url: str
    services: Services
    settings: Settings


@asynccontextmanager
async def serving(settings: Settings, models: ModelRegistry | None = None) -> AsyncIterator[LiveServer]:
    app = create_app(settings, models=models or default_model_registry())
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app.state.services, settings)
    finally:
        server.should_exit = True
        await task


@dataclass
class SseEvent:
    id: str | None
    data: dict[str, Any]


class StreamEnded(AssertionError):
    """The server closed the event stream."""


class SseReader:
    """Reads `id:`/`data:` frames (and keep-alive comments) from a streaming httpx response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()
        self.comments: list[str] = []

    async def next(self, timeout: float = 5.0) -> SseEvent:
        async with asyncio.timeout(timeout):
            event_id: str | None = None
            data: list[str] = []
            async for line in self.lines:
                if line == "":
                    if data:
                        return SseEvent(event_id, json.loads("\n".join(data)))
                    continue
                if line.startswith(":"):
                    self.comments.append(line)
                elif line.startswith("id:"):
                    event_id = line[3:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
            raise StreamEnded("the stream ended")

    async def rest(self, timeout: float = 5.0) -> list[SseEvent]:
        """Every event until the server ends the stream (fails if it is still open at the deadline)."""
        events: list[SseEvent] = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    events.append(await self.next(timeout))
                except StreamEnded:
                    return events

    async def until(self, event_type: str, timeout: float = 5.0) -> SseEvent:
        """The next ``event_type`` event, skipping others; ``timeout`` bounds the whole wait."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.next(timeout)
                if event.data["type"] == event_type:
                    return event


async def subscribe(stack: AsyncExitStack, client: httpx.AsyncClient, sid: str, **headers: str) -> SseReader:
    """Open `GET /api/updates` for ``sid`` (closed with ``stack``); it must answer 200 with SSE."""
    response = await stack.enter_async_context(
        client.stream(
            "GET", "/api/updates", headers={"X-Session-Id": sid, "Accept": "text/event-stream", **headers}
        )
    )
    assert response.status_code == 200, response.status_code
    assert response.headers["content-type"].startswith("text/event-stream")
    return SseReader(response)
