"""Two servers on one PostgreSQL, requests sent to either (SPEC 6): every message stored once and
in order, no number used twice, caches that hear about the other replica's writes, and event
streams on one replica that carry the other's events."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from aomi.agent.models import ModelRegistry
from aomi.db.engine import create_engine
from aomi.sessions.store import SessionStore
from aomi.settings import Settings
from tests.support.harness import Harness, SlowModel, new_id, running, serving, subscribe, write_app


def _postgres_only(settings: Settings) -> None:
    if not settings.resolved_database_url.startswith("postgresql"):
        pytest.skip("SQLite is single-process: there is no second replica")


async def _turn(h: Harness, sid: str, text: str) -> None:
    r = await h.chat(sid, text)
    assert r.status_code == 200, r.text
    await h.wait_idle(sid, timeout=20)


async def _shows(h: Harness, sid: str, count: int) -> dict[str, Any]:
    """The replica's snapshot once it holds ``count`` messages (a second at most)."""
    deadline = time.monotonic() + 1.0
    while True:
        body: dict[str, Any] = (await h.state(sid)).json()
        if len(body["messages"]) == count:
            return body
        assert time.monotonic() < deadline, f"stale: {len(body['messages'])} messages, not {count}"
        await asyncio.sleep(0.02)


async def test_two_replicas_share_one_consistent_session(settings: Settings) -> None:
    _postgres_only(settings)
    async with running(settings) as a, running(settings) as b:
        sid = new_id()
        await _turn(a, sid, "one")  # a caches the session
        await _turn(b, sid, "two")
        await _shows(a, sid, 4)  # a heard that b wrote: no stale snapshot
        await _turn(a, sid, "three")  # numbered by the database: no collision with b's rows
        posts = [
            (a if i % 2 else b).client.post(
                "/api/system", params={"message": f"note {i}"}, headers={"X-Session-Id": sid}
            )
            for i in range(6)
        ]
        assert {r.status_code for r in await asyncio.gather(*posts)} == {200}
        await _shows(b, sid, 12)
        await _shows(a, sid, 12)

    engine = create_engine(settings.resolved_database_url)
    try:
        stored = await SessionStore(engine).load(sid)
    finally:
        await engine.dispose()
    assert stored is not None
    users = [m.content for m in stored.messages if m.sender.value == "user"]
    assert users == ["one", "two", "three"]  # each exactly once, in the order sent
    notes = sorted(m.content for m in stored.messages if m.sender.value == "system")
    assert notes == [f"note {i}" for i in range(6)]
    seqs = [m.seq for m in stored.messages]
    assert seqs == sorted(set(seqs))
    assert len([m for m in stored.messages if m.sender.value == "agent"]) == 3


async def test_an_event_stream_on_one_replica_carries_the_others_events(settings: Settings) -> None:
    _postgres_only(settings)
    async with (
        serving(settings) as a,
        serving(settings) as b,
        httpx.AsyncClient(base_url=a.url, timeout=10) as on_a,
        httpx.AsyncClient(base_url=b.url, timeout=10) as on_b,
        AsyncExitStack() as stack,
    ):
        sid = new_id()
        await on_a.post("/api/system", params={"message": "hello"}, headers={"X-Session-Id": sid})
        reader = await subscribe(stack, on_a, sid)
        r = await on_b.post("/api/chat", params={"message": "price of ETH?"}, headers={"X-Session-Id": sid})
        assert r.status_code == 200
        seen: list[tuple[int, str]] = []
        while not seen or seen[-1][1] != "turn_finished":
            event = await reader.next(timeout=10)
            assert event.id is not None
            seen.append((int(event.id), event.data["type"]))
        ids = [i for i, _ in seen]
        assert ids == sorted(set(ids)) and ids == list(range(ids[0], ids[0] + len(ids)))  # in order, no gap
        assert seen[0][1] == "turn_started"


async def test_a_rename_on_one_replica_survives_a_turn_ending_on_the_other(
    settings: Settings, slow: SlowModel, models: ModelRegistry
) -> None:
    """A turn writes only its own columns at its end: another replica's rename meanwhile stays."""
    _postgres_only(settings)
    write_app(settings.apps_dir, "slowapp", public=True, models=("slow", "offline"))
    async with running(settings, models) as a, running(settings, models) as b:
        sid = new_id()
        assert (await a.chat(sid, "take your time", app="slowapp")).status_code == 200
        await asyncio.wait_for(slow.started.wait(), 10)
        r = await b.client.patch(f"/api/sessions/{sid}", json={"title": "Renamed on b"})
        assert r.status_code == 200, r.text
        slow.release.set()
        await a.wait_idle(sid, app="slowapp", timeout=20)
        for replica in (a, b):
            body = (await replica.client.get(f"/api/sessions/{sid}")).json()
            assert body["title"] == "Renamed on b", body
