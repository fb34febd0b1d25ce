"""Chat, state and interrupt (SPEC 4.2), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import event, func, select, text

from aomi.agent.models import ModelRegistry
from aomi.db import tables as t
from aomi.settings import Settings
from tests.support.harness import Harness, SlowModel, headers, new_id, running
from tests.support.price_server import FakePriceApi


async def _slow_turn(server: Harness, slow: SlowModel, message: str) -> tuple[str, str]:
    """Start a turn on the slow model and wait until it has streamed its partial answer."""
    key = await server.issue_key("slowapp")
    sid = new_id()
    assert (await server.chat(sid, message, app="slowapp", key=key)).status_code == 200
    await asyncio.wait_for(slow.started.wait(), 5)
    return sid, key


async def test_chat_returns_snapshot_with_user_message_and_processing(
    server: Harness, slow: SlowModel
) -> None:
    sid = new_id()
    r = await server.chat(sid, "hello there", app="openapp")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"messages", "system_events", "title", "is_processing", "status", "user_state"}
    assert body["is_processing"] is True
    assert body["status"] == "processing"
    user = body["messages"][0]
    assert (user["sender"], user["content"], user["tool_result"], user["is_streaming"]) == (
        "user",
        "hello there",
        None,
        False,
    )
    assert user["timestamp"].endswith("Z") and len(user["timestamp"]) == 24


async def test_user_message_is_committed_before_the_model_runs(server: Harness, slow: SlowModel) -> None:
    sid, key = await _slow_turn(server, slow, "keep me")
    async with server.services.engine.connect() as conn:
        rows = (await conn.execute(select(t.messages.c.content).where(t.messages.c.session_id == sid))).all()
        status = await conn.scalar(select(t.sessions.c.status).where(t.sessions.c.id == sid))
    assert ("keep me",) in rows
    assert status == "processing"
    slow.release.set()
    await server.wait_idle(sid, app="slowapp", key=key)


async def test_price_answer_appears_in_state(server: Harness, price_api: FakePriceApi) -> None:
    key = await server.issue_key("mycoindex")
    sid = new_id()
    r = await server.chat(sid, "What is the price of ETH?", app="mycoindex", key=key)
    assert r.status_code == 200
    body = await server.wait_idle(sid, app="mycoindex", key=key)
    assert body["status"] == "idle"
    senders = [m["sender"] for m in body["messages"]]
    assert senders[0] == "user" and senders[-1] == "agent"
    tool_msgs = [m for m in body["messages"] if m["tool_result"]]
    assert len(tool_msgs) == 1 and tool_msgs[0]["content"] == ""
    topic, result = tool_msgs[0]["tool_result"]
    assert "get_token_price" in topic and "3,456.78" in result
    assert "3,456.78" in body["messages"][-1]["content"]
    assert not any(m["is_streaming"] for m in body["messages"])
    assert any("ids=ethereum" in req for req in price_api.requests)


async def test_price_tool_error_is_answered(server: Harness, price_api: FakePriceApi) -> None:
    price_api.fail = True
    key = await server.issue_key("mycoindex")
    sid = new_id()
    await server.chat(sid, "price of BTC", app="mycoindex", key=key)
    body = await server.wait_idle(sid, app="mycoindex", key=key)
    assert body["status"] == "idle"
    assert "offline" in body["messages"][-1]["content"].lower()
    assert "500" in body["messages"][-1]["content"] or "could not" in body["messages"][-1]["content"].lower()


async def test_second_message_during_a_turn_is_409_and_stores_nothing(
    server: Harness, slow: SlowModel
) -> None:
    sid, key = await _slow_turn(server, slow, "one")
    r = await server.chat(sid, "two", app="slowapp", key=key)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "session_busy"
    slow.release.set()
    body = await server.wait_idle(sid, app="slowapp", key=key)
    assert [m["content"] for m in body["messages"] if m["sender"] == "user"] == ["one"]
    assert body["messages"][-1]["content"] == "Partial answer and the rest."


async def test_interrupt_cancels_the_turn_and_keeps_the_partial_answer(
    server: Harness, slow: SlowModel
) -> None:
    sid, key = await _slow_turn(server, slow, "tell me a long story")
    mid = (await server.state(sid, app="slowapp", key=key)).json()
    assert mid["messages"][-1]["content"] == "Partial answer" and mid["messages"][-1]["is_streaming"] is True
    r = await server.client.post("/api/interrupt", params={"app": "slowapp"}, headers=headers(sid, key))
    assert r.status_code == 200
    body = r.json()
    assert body["is_processing"] is False and body["status"] == "interrupted"
    assert body["messages"][-1]["content"] == "Partial answer"
    assert body["messages"][-1]["is_streaming"] is False
    assert slow.cancelled, "the model call was not cancelled"
    stored = await server.services.manager.store.load(sid)
    assert stored is not None and stored.status.value == "interrupted"
    assert stored.messages[-1].content == "Partial answer"
    # The session takes a new message after the interrupt, with the history repaired.
    slow.release.set()
    assert (await server.chat(sid, "go on", app="slowapp", key=key)).status_code == 200
    done = await server.wait_idle(sid, app="slowapp", key=key)
    assert done["status"] == "idle"


async def test_interrupt_unknown_session_is_404(server: Harness) -> None:
    r = await server.client.post("/api/interrupt", headers=headers(new_id()))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "session_not_found"


async def test_state_of_unknown_session_is_empty_and_creates_nothing(server: Harness) -> None:
    sid = new_id()
    r = await server.state(sid)
    assert r.status_code == 200
    assert r.json() == {
        "messages": [],
        "system_events": [],
        "title": None,
        "is_processing": False,
        "status": "idle",
        "user_state": None,
    }
    assert await server.services.manager.store.load(sid) is None


async def test_empty_and_oversize_messages(server: Harness) -> None:
    sid = new_id()
    for msg in ("", "   "):
        r = await server.chat(sid, msg)
        assert r.status_code == 400
    r = await server.client.post("/api/chat", headers=headers(sid))
    assert r.status_code == 400
    big = "a" * (server.settings.max_message_bytes + 1)
    r = await server.client.post("/api/chat", json={"message": big}, headers=headers(sid))
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert await server.services.manager.store.load(sid) is None


async def test_body_over_the_limit_is_413(server: Harness) -> None:
    body = b'{"message": "' + b"a" * (server.settings.max_body_bytes + 10) + b'"}'
    r = await server.client.post(
        "/api/chat", content=body, headers={**headers(new_id()), "content-type": "application/json"}
    )
    assert r.status_code == 413


async def test_chat_fields_from_a_json_body(server: Harness) -> None:
    key = await server.issue_key("mycoindex")
    sid = new_id()
    r = await server.client.post(
        "/api/chat", json={"message": "hi from body", "app": "mycoindex"}, headers=headers(sid, key)
    )
    assert r.status_code == 200
    assert r.json()["messages"][0]["content"] == "hi from body"
    bad = await server.client.post(
        "/api/chat", content=b"{not json", headers={**headers(sid, key), "content-type": "application/json"}
    )
    assert bad.status_code == 400


async def test_restart_keeps_every_session(
    server: Harness, api_settings: Settings, models: ModelRegistry
) -> None:
    sids = [new_id() for _ in range(3)]
    for i, sid in enumerate(sids):
        await server.chat(sid, f"message {i}")
        await server.wait_idle(sid)
    before = {sid: (await server.state(sid)).json() for sid in sids}
    async with running(api_settings, models) as again:
        assert len(again.services.manager) == 0
        for sid in sids:
            after = (await again.state(sid)).json()
            assert after == before[sid]
            assert len(after["messages"]) == 2


async def test_twenty_concurrent_first_chats_make_one_session(server: Harness, slow: SlowModel) -> None:
    key = await server.issue_key("slowapp")
    sid = new_id()
    results = await asyncio.gather(*(server.chat(sid, f"hi {i}", app="slowapp", key=key) for i in range(20)))
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * 19
    async with server.services.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(t.sessions)) == 1
        assert await conn.scalar(select(func.count()).select_from(t.messages)) == 1
    slow.release.set()
    await server.wait_idle(sid, app="slowapp", key=key)


async def test_key_plaintext_is_nowhere_in_the_database(server: Harness) -> None:
    key = await server.issue_key("mycoindex")
    sid = new_id()
    await server.chat(sid, "price of eth", app="mycoindex", key=key)
    await server.wait_idle(sid, app="mycoindex", key=key)
    dump = []
    async with server.services.engine.connect() as conn:
        for table in t.metadata.sorted_tables:
            for row in (await conn.execute(text(f"SELECT * FROM {table.name}"))).all():
                dump.append(json.dumps([str(v) for v in row]))
    blob = "\n".join(dump)
    assert sid in blob  # the dump really holds the data
    assert key not in blob
    assert key.split("-", 2)[2] not in blob


async def test_polling_a_session_in_memory_touches_no_database(
    api_settings: Settings, models: ModelRegistry
) -> None:
    """The hot path: a cached key and a session in memory cost no SQL, and the snapshot is reused."""
    # A long key cache keeps the test independent of how long the turn takes on a busy machine.
    async with running(api_settings.model_copy(update={"key_cache_seconds": 60}), models) as h:
        key = await h.issue_key("mycoindex")
        sid = new_id()
        await h.chat(sid, "hello", app="mycoindex", key=key)
        await h.wait_idle(sid, app="mycoindex", key=key)
        statements: list[str] = []

        def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            statements.append(statement)

        sync_engine = h.services.engine.sync_engine
        event.listen(sync_engine, "before_cursor_execute", record)
        try:
            bodies = [(await h.state(sid, app="mycoindex", key=key)).content for _ in range(5)]
        finally:
            event.remove(sync_engine, "before_cursor_execute", record)
        assert statements == []
        assert len(set(bodies)) == 1
        s = await h.services.manager.get(sid)
        assert s is not None
        assert s.snapshot() is s.snapshot()  # serialized once per change, not per poll
