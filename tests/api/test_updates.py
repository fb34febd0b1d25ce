"""GET /api/updates: SSE on a real uvicorn server (SPEC 4.4)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest_asyncio

from aomi.agent.models import ModelRegistry
from aomi.api.auth import Caller
from aomi.api.events import _stream
from aomi.sessions.model import SYSTEM_NOTICE
from aomi.settings import Settings
from tests.support.harness import LiveServer, new_id, serving, subscribe, until


@pytest_asyncio.fixture
async def live(api_settings: Settings, models: ModelRegistry) -> AsyncIterator[LiveServer]:
    async with serving(api_settings.model_copy(update={"sse_keepalive_seconds": 0.2}), models) as server:
        yield server


@pytest_asyncio.fixture
async def client(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.url, timeout=10) as c:
        yield c


async def test_a_chat_streams_turn_and_title_events(live: LiveServer, client: httpx.AsyncClient) -> None:
    sid = new_id()
    async with AsyncExitStack() as stack:
        reader = await subscribe(stack, client, sid)  # before the session exists
        r = await client.post("/api/chat", params={"message": "price of ETH"}, headers={"X-Session-Id": sid})
        assert r.status_code == 200
        started = await reader.next()
        assert started.data == {"type": "turn_started", "session_id": sid}
        title = await reader.next()
        assert title.data == {"type": "title_changed", "session_id": sid, "new_title": "Price of ETH"}
        finished = await reader.next()
        assert finished.data == {"type": "turn_finished", "session_id": sid, "status": "idle"}
        ids = [int(e.id or 0) for e in (started, title, finished)]
        assert ids == sorted(ids) and len(set(ids)) == 3
    state = (await client.get("/api/state", headers={"X-Session-Id": sid})).json()
    assert state["title"] == "Price of ETH"


async def test_keep_alive_comments(live: LiveServer, client: httpx.AsyncClient) -> None:
    sid = new_id()
    async with AsyncExitStack() as stack:
        reader = await subscribe(stack, client, sid)
        await client.post("/api/chat", params={"message": "hi"}, headers={"X-Session-Id": sid})
        await reader.until("turn_finished")
        deadline = asyncio.get_running_loop().time() + 5
        while not reader.comments and asyncio.get_running_loop().time() < deadline:
            await client.post("/api/system", params={"message": "tick"}, headers={"X-Session-Id": sid})
            await reader.until("system_notice")
            await asyncio.sleep(0.25)
        assert reader.comments and reader.comments[0].startswith(":")


async def test_reconnect_with_last_event_id_gets_exactly_what_was_missed(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    sid = new_id()
    await client.post("/api/chat", params={"message": "hi"}, headers={"X-Session-Id": sid})
    async with AsyncExitStack() as stack:
        reader = await subscribe(stack, client, sid, **{"Last-Event-ID": "0"})
        replayed = [await reader.next() for _ in range(3)]
    assert [e.data["type"] for e in replayed] == ["turn_started", "title_changed", "turn_finished"]
    last_seen = replayed[-1].id
    assert last_seen is not None
    # While disconnected: notices and a callback.
    for i in range(3):
        await client.post("/api/system", params={"message": f"notice {i}"}, headers={"X-Session-Id": sid})
    await client.post(
        "/api/system",
        json={"message": json.dumps({"type": "job_done", "job": 7})},
        headers={"X-Session-Id": sid},
    )
    async with AsyncExitStack() as stack:
        reader = await subscribe(stack, client, sid, **{"Last-Event-ID": last_seen})
        missed = [await reader.next() for _ in range(4)]
        assert [e.data for e in missed] == [
            {"type": "system_notice", "session_id": sid, "message": "notice 0"},
            {"type": "system_notice", "session_id": sid, "message": "notice 1"},
            {"type": "system_notice", "session_id": sid, "message": "notice 2"},
            {"type": "job_done", "job": 7, "session_id": sid},
        ]
        assert [int(e.id or 0) for e in missed] == list(range(int(last_seen) + 1, int(last_seen) + 5))
        # Then live again, with nothing replayed twice.
        await client.post("/api/system", params={"message": "live"}, headers={"X-Session-Id": sid})
        live_event = await reader.next()
        assert live_event.data["message"] == "live"


async def test_two_hundred_subscribers_all_receive_an_event(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    sid = new_id()
    await client.post("/api/chat", params={"message": "hi"}, headers={"X-Session-Id": sid})
    limits = httpx.Limits(max_connections=250, max_keepalive_connections=250)
    async with (
        httpx.AsyncClient(base_url=live.url, timeout=30, limits=limits) as many,
        AsyncExitStack() as stack,
    ):
        readers = await asyncio.gather(*(subscribe(stack, many, sid) for _ in range(200)))
        await until(lambda: live.services.manager.bus.subscriber_count(sid) == 200, "200 subscribers")
        await client.post("/api/system", params={"message": "to everyone"}, headers={"X-Session-Id": sid})
        got = await asyncio.gather(*(r.until("system_notice", timeout=20) for r in readers))
    assert len(got) == 200
    assert all(e.data["message"] == "to everyone" for e in got)
    assert len({e.id for e in got}) == 1


async def test_updates_input_errors(client: httpx.AsyncClient, live: LiveServer) -> None:
    assert (await client.get("/api/updates")).status_code == 400
    assert (await client.get("/api/updates", headers={"X-Session-Id": "nope"})).status_code == 400
    r = await client.get("/api/updates", headers={"X-Session-Id": new_id(), "Last-Event-ID": "abc"})
    assert r.status_code == 400
    r = await client.get("/api/updates", params={"app": "mycoindex"}, headers={"X-Session-Id": new_id()})
    assert r.status_code == 401
    key = (await live.services.keys.create(["other"])).key
    sid = new_id()
    await client.post(
        "/api/chat",
        params={"message": "hi", "app": "other"},
        headers={"X-Session-Id": sid, "AOMI-APP-KEY": key},
    )
    mine = (await live.services.keys.create(["mycoindex"])).key
    r = await client.get("/api/updates", headers={"X-Session-Id": sid, "AOMI-APP-KEY": mine})
    assert r.status_code == 403


async def test_a_subscriber_that_falls_behind_catches_up_from_the_log(live: LiveServer) -> None:
    """Publishing never waits for a subscriber; one that overflows its queue resyncs from the log,
    from where it subscribed (the history before it is not replayed)."""
    services = live.services
    sid = new_id()
    s, _ = await services.manager.get_or_create(sid, "default", "offline")
    for i in range(3):
        await services.manager.add_event(s, SYSTEM_NOTICE, f"before {i}")
    default = services.apps.get("default")
    assert default is not None
    stream = _stream(services, sid, None, Caller(default, None), None)
    first = asyncio.ensure_future(anext(stream))
    await until(lambda: services.manager.bus.subscriber_count(sid) > 0, "the stream subscribes")
    count = services.settings.sse_queue_size * 2 + 5
    for i in range(count):
        await services.manager.add_event(s, SYSTEM_NOTICE, f"n{i}")
    assert [sub.overflowed for sub in services.manager.bus.subscribers(sid)] == [True]
    frames = [await first] + [await anext(stream) for _ in range(count - 1)]
    messages = [json.loads(str(f.data))["message"] for f in frames]
    assert messages == [f"n{i}" for i in range(count)]
    assert [int(str(f.id)) for f in frames] == list(range(4, count + 4))
    await stream.aclose()
    assert services.manager.bus.subscriber_count(sid) == 0


async def test_event_numbers_continue_when_a_session_is_deleted_and_recreated(
    live: LiveServer, client: httpx.AsyncClient
) -> None:
    """A subscriber connected across the delete, and one resuming with an old Last-Event-ID,
    both get the new session's events: numbering never restarts under one id."""
    sid = new_id()
    headers = {"X-Session-Id": sid}
    for i in range(3):
        await client.post("/api/system", params={"message": f"old {i}"}, headers=headers)
    old = await client.get("/api/events", headers=headers)
    assert len(old.json()) == 3
    async with AsyncExitStack() as stack:
        across = await subscribe(stack, client, sid)
        assert (await client.delete(f"/api/sessions/{sid}")).status_code == 200
        assert (await client.get("/api/events", headers=headers)).status_code == 404
        await client.post("/api/system", params={"message": "new"}, headers=headers)
        event = await across.next()
        assert event.data["message"] == "new"
        assert int(event.id or 0) == 4
        resumed = await subscribe(stack, client, sid, **{"Last-Event-ID": "3"})
        assert [e.data["message"] for e in [await resumed.next()]] == ["new"]
    # Deleted twice over: the numbering still goes on from the highest.
    assert (await client.delete(f"/api/sessions/{sid}")).status_code == 200
    await client.post("/api/system", params={"message": "newer"}, headers=headers)
    async with AsyncExitStack() as stack:
        reader = await subscribe(stack, client, sid, **{"Last-Event-ID": "4"})
        newer = await reader.next()
        assert (newer.id, newer.data["message"]) == ("5", "newer")
