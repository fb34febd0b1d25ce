"""Every turn ends: errors, limits, timeouts and crashes give `error` or `interrupted` plus a SystemError."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel
from sqlalchemy import update

from aomi.agent.models import ModelRegistry, default_model_registry
from aomi.db import tables as t
from aomi.sessions.leases import ORPHAN_MESSAGE
from aomi.sessions.model import Session, Status
from aomi.settings import Settings
from aomi.timeutil import now_ms
from tests.support.harness import Harness, SlowModel, new_id, running, write_app


def _registry(**extra: FunctionModel) -> ModelRegistry:
    """Every label the test Apps name, with the given models in place of the idle defaults."""
    registry = default_model_registry()
    for label in ("slow", "broken", "loop"):
        registry.register(label, extra.get(label) or SlowModel().model)
    return registry


def _unused(messages: list[ModelMessage], info: AgentInfo) -> Any:
    raise AssertionError("the server streams turns")


async def _broken_stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
    yield "Starting"
    raise RuntimeError("provider exploded")


async def _tool_loop(
    messages: list[ModelMessage], info: AgentInfo
) -> AsyncIterator[dict[int, DeltaToolCall]]:
    yield {0: DeltaToolCall("get_token_price", '{"symbol": "ETH"}')}


def _settings(base: Settings, **update: Any) -> Settings:
    write_app(base.apps_dir, "testapp", public=True, models=("broken", "loop", "slow", "offline"))
    return base.model_copy(update=update)


async def _start_slow(h: Harness, slow: SlowModel) -> str:
    """A testapp session on the slow model, its turn started and streaming."""
    sid = new_id()
    await h.services.manager.get_or_create(sid, "testapp", "slow")
    assert (await h.chat(sid, "go", app="testapp")).status_code == 200
    await asyncio.wait_for(slow.started.wait(), 5)
    return sid


async def _one_turn(h: Harness, model: str) -> dict[str, Any]:
    sid = new_id()
    await h.services.manager.get_or_create(sid, "testapp", model)
    assert (await h.chat(sid, "go", app="testapp")).status_code == 200
    return await h.wait_idle(sid, app="testapp")


async def test_a_failing_model_ends_the_turn_in_error(api_settings: Settings) -> None:
    models = _registry(broken=FunctionModel(_unused, stream_function=_broken_stream))
    async with running(_settings(api_settings), models) as h:
        body = await _one_turn(h, "broken")
    assert body["status"] == "error"
    assert body["messages"][-1]["content"] == "Starting"
    assert body["messages"][-1]["is_streaming"] is False
    assert len(body["system_events"]) == 1
    assert "provider exploded" in body["system_events"][0]["SystemError"]


async def test_the_request_limit_ends_the_turn_in_error(api_settings: Settings) -> None:
    models = _registry(loop=FunctionModel(_unused, stream_function=_tool_loop))
    async with running(_settings(api_settings, turn_request_limit=3), models) as h:
        body = await _one_turn(h, "loop")
    assert body["status"] == "error"
    assert "limit" in body["system_events"][0]["SystemError"]
    assert sum(1 for m in body["messages"] if m["tool_result"]) == 3


async def test_the_wall_time_limit_ends_the_turn_in_error(api_settings: Settings) -> None:
    slow = SlowModel()
    async with running(_settings(api_settings, turn_timeout_seconds=0.3), _registry(slow=slow.model)) as h:
        body = await _one_turn(h, "slow")
    assert body["status"] == "error"
    assert "0.3 s" in body["system_events"][0]["SystemError"]
    assert body["messages"][-1]["content"] == "Partial answer"


async def test_streamed_text_is_flushed_while_the_turn_runs(api_settings: Settings) -> None:
    slow = SlowModel()
    async with running(_settings(api_settings, stream_flush_seconds=0.05), _registry(slow=slow.model)) as h:
        sid = await _start_slow(h, slow)
        stored = None
        for _ in range(200):
            stored = await h.services.manager.store.load(sid)
            if stored is not None and len(stored.messages) == 2:
                break
            await asyncio.sleep(0.02)
        assert stored is not None
        assert stored.messages[1].content == "Partial answer" and stored.messages[1].is_streaming
        slow.release.set()
        await h.wait_idle(sid, app="testapp")


async def _claim(h: Harness, sid: str, owner: str, expires_ms: int) -> None:
    """Make the session look processing under someone else's lease."""
    async with h.services.engine.begin() as conn:
        await conn.execute(
            update(t.sessions)
            .where(t.sessions.c.id == sid)
            .values(status="processing", lease_owner=owner, lease_expires_ms=expires_ms)
        )


async def _idle_session(h: Harness) -> str:
    """A default-App session after one complete exchange."""
    sid = new_id()
    await h.chat(sid, "hello")
    await h.wait_idle(sid)
    return sid


async def test_an_orphaned_turn_is_interrupted_with_a_system_error_delivered_once(
    api_settings: Settings, models: ModelRegistry
) -> None:
    async with running(api_settings, models) as h:
        sid = await _idle_session(h)
        # Simulate a crash mid-turn: processing, a streaming message, a lease nobody renews.
        await _claim(h, sid, "dead-server", now_ms() - 1)
        async with h.services.engine.begin() as conn:
            await conn.execute(
                update(t.messages)
                .where(t.messages.c.session_id == sid, t.messages.c.seq == 1)
                .values(is_streaming=True)
            )
    async with running(api_settings, models) as h:
        body = (await h.state(sid)).json()
        assert body["status"] == "interrupted" and body["is_processing"] is False
        assert body["messages"][1]["is_streaming"] is False
        assert len(body["system_events"]) == 1 and "interrupted" in body["system_events"][0]["SystemError"]
        again = (await h.state(sid)).json()
        assert again["system_events"] == []
    async with running(api_settings, models) as h:
        assert (await h.state(sid)).json()["system_events"] == []
        assert (await h.chat(sid, "after the crash")).status_code == 200
        assert (await h.wait_idle(sid))["status"] == "idle"


async def test_a_live_foreign_lease_is_respected_then_recovered(
    api_settings: Settings, models: ModelRegistry
) -> None:
    async with running(api_settings, models) as h:
        sid = await _idle_session(h)
        h.services.manager.forget(sid)
        await _claim(h, sid, "other-replica", now_ms() + 60_000)
        assert (await h.state(sid)).json()["is_processing"] is True
        r = await h.chat(sid, "not now")
        assert r.status_code == 409
        await _claim(h, sid, "other-replica", now_ms() - 1)  # the other replica died
        # The sweep here, or the server's own periodic one, settles it exactly once.
        await h.services.manager.recover_orphans()
        assert (await h.state(sid)).json()["status"] == "interrupted"
        events = (await h.client.get("/api/events", headers={"X-Session-Id": sid})).json()
        assert [e for e in events if "SystemError" in e] == [{"SystemError": ORPHAN_MESSAGE}]


async def test_graceful_shutdown_interrupts_running_turns(api_settings: Settings) -> None:
    slow = SlowModel()
    async with running(_settings(api_settings), _registry(slow=slow.model)) as h:
        sid = await _start_slow(h, slow)
    assert slow.cancelled
    async with running(_settings(api_settings), _registry(slow=slow.model)) as h:
        stored = await h.services.manager.get(sid)
        assert isinstance(stored, Session)
        assert stored.status is Status.INTERRUPTED
        assert stored.messages[-1].content == "Partial answer"


async def test_idle_sessions_are_evicted_from_memory_only(
    api_settings: Settings, models: ModelRegistry
) -> None:
    async with running(api_settings.model_copy(update={"session_cache_size": 2}), models) as h:
        sids = [new_id() for _ in range(4)]
        for sid in sids:
            await h.chat(sid, "hi")
            await h.wait_idle(sid)
        assert len(h.services.manager) <= 2
        h.services.manager.idle_seconds = 0
        h.services.manager.evict()
        assert len(h.services.manager) == 0
        for sid in sids:
            assert len((await h.state(sid)).json()["messages"]) == 2


async def test_a_long_turn_keeps_its_lease_alive(api_settings: Settings) -> None:
    """The owner renews the lease: a turn longer than the lease is not mistaken for an orphan."""
    slow = SlowModel()
    async with running(_settings(api_settings, lease_seconds=0.3), _registry(slow=slow.model)) as h:
        sid = await _start_slow(h, slow)
        initial = await h.services.manager.store.load(sid)
        assert initial is not None and initial.lease_expires_ms is not None
        for _ in range(200):  # several lease lengths, polling the stored lease
            await asyncio.sleep(0.01)
            stored = await h.services.manager.store.load(sid)
            assert stored is not None and stored.status is Status.PROCESSING
            if (stored.lease_expires_ms or 0) > initial.lease_expires_ms + 600:
                break
        else:
            raise AssertionError("the lease was not renewed")
        assert await h.services.manager.recover_orphans() == 0
        slow.release.set()
        assert (await h.wait_idle(sid, app="testapp"))["status"] == "idle"
