"""Usage rows and their totals, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aomi.db.tables import usage
from aomi.sessions.model import Session
from aomi.sessions.store import SessionStore
from aomi.usage import TurnUsage, UsageStore, UsageTotal

T0 = 1_800_000_000_000
TURN = TurnUsage(
    app="mycoindex",
    key_id="key1",
    session_id="5f0c6a8e-1111-4222-8333-444455556666",
    model_label="gpt",
    provider="openai",
    requests=2,
    input_tokens=3_000_000_000,  # beyond 32 bits: BIGINT on both databases
    output_tokens=50,
    tool_calls=1,
    status="idle",
    duration_ms=1200,
    created_ms=T0,
)


async def _seed(store: UsageStore) -> None:
    await store.record(TURN)
    await store.record(replace(TURN, status="error", requests=1, tool_calls=0, created_ms=T0 + 10))
    await store.record(replace(TURN, model_label="offline", provider="builtin", created_ms=T0 + 20))
    await store.record(replace(TURN, key_id="key2", status="interrupted", created_ms=T0 + 30))
    await store.record(replace(TURN, app="default", key_id=None, session_id=None, created_ms=T0 + 40))


async def test_record_keeps_every_field(engine: AsyncEngine) -> None:
    await UsageStore(engine).record(TURN)
    async with engine.connect() as conn:
        row = (await conn.execute(select(usage))).one()._mapping
    assert {name: row[name] for name in TURN.__dataclass_fields__} == TURN.__dict__
    assert isinstance(row["id"], int)


async def test_totals_group_by_app_key_and_model(engine: AsyncEngine) -> None:
    store = UsageStore(engine)
    assert await store.totals() == []
    await _seed(store)
    totals = await store.totals()
    assert [(t.app, t.key_id, t.model_label) for t in totals] == [
        ("default", None, "gpt"),
        ("mycoindex", "key1", "gpt"),
        ("mycoindex", "key1", "offline"),
        ("mycoindex", "key2", "gpt"),
    ]
    assert totals[1] == UsageTotal(
        app="mycoindex",
        key_id="key1",
        model_label="gpt",
        provider="openai",
        turns=2,
        requests=3,
        input_tokens=6_000_000_000,
        output_tokens=100,
        tool_calls=1,
        errors=1,
        duration_ms=2400,
    )
    assert totals[3].errors == 1  # interrupted counts: the turn did not end idle
    assert (totals[0].errors, totals[2].errors) == (0, 0)
    for t in totals:
        assert all(type(v) is int for v in (t.turns, t.requests, t.input_tokens, t.duration_ms))
    assert set(totals[1].to_json()) == {
        "app",
        "key_id",
        "model_label",
        "provider",
        "turns",
        "requests",
        "input_tokens",
        "output_tokens",
        "tool_calls",
        "errors",
        "duration_ms",
    }


async def test_totals_filter_by_app_key_and_time(engine: AsyncEngine) -> None:
    store = UsageStore(engine)
    await _seed(store)
    assert [t.app for t in await store.totals(app="default")] == ["default"]
    assert await store.totals(app="nope") == []
    by_key = await store.totals(key_id="key1")
    assert [(t.model_label, t.turns) for t in by_key] == [("gpt", 2), ("offline", 1)]
    assert [t.key_id for t in await store.totals(app="mycoindex", key_id="key2")] == ["key2"]
    recent = await store.totals(since_ms=T0 + 20)
    assert sum(t.turns for t in recent) == 3
    window = await store.totals(since_ms=T0 + 10, until_ms=T0 + 30)
    assert sum(t.turns for t in window) == 2


async def test_a_deleted_threads_usage_stays_without_its_session(engine: AsyncEngine) -> None:
    store = UsageStore(engine)
    sessions = SessionStore(engine)
    assert await sessions.create(Session(id=TURN.session_id or "", app="mycoindex", model="gpt"))
    await _seed(store)
    await sessions.delete(TURN.session_id or "")
    async with engine.connect() as conn:
        assert (
            await conn.scalar(select(func.count()).select_from(usage).where(usage.c.session_id.is_(None)))
            == 5
        )
    assert sum(t.turns for t in await store.totals()) == 5
