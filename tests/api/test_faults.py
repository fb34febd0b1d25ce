"""Bad input and database faults never break a session (SQLite and PostgreSQL).

Faults are real where this machine allows: a PostgreSQL database dropped and recreated under
the running server. A full disk is injected just below the store (every write statement fails
as the driver fails on a full disk), since tests run as root, for whom file modes do not bind.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from aomi.agent.models import ModelRegistry
from aomi.sessions.leases import OUTAGE_ORPHAN_MESSAGE
from aomi.settings import Settings
from tests.conftest import TEST_SECRET
from tests.support.harness import Harness, SlowModel, headers, new_id, poll, running, until
from tests.support.price_server import FakePriceApi

WRITES = ("INSERT", "UPDATE", "DELETE")


@contextmanager
def full_disk(engine: AsyncEngine) -> Iterator[None]:
    """Every write statement fails the way the driver fails when the disk is full."""
    dbapi = engine.dialect.loaded_dbapi

    def refuse(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(WRITES):
            error = sqlite3.OperationalError if engine.dialect.name == "sqlite" else dbapi.OperationalError
            raise error("database or disk is full")

    event.listen(engine.sync_engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", refuse)


def assert_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "database_unavailable"
    assert r.headers["Retry-After"].isdigit()


async def assert_healthy(h: Harness, sid: str) -> dict[str, Any]:
    """The session answers state and chat normally, and memory says what the database holds."""
    state = await h.state(sid)
    assert state.status_code == 200, state.text
    before = len(state.json()["messages"])
    r = await h.chat(sid, "What is the price of ETH?")
    assert r.status_code == 200, r.text
    body = await h.wait_idle(sid)
    assert len(body["messages"]) > before and body["status"] == "idle"
    stored = await h.services.manager.store.load(sid)
    assert stored is not None
    assert [m.to_json() for m in stored.messages] == body["messages"]
    return body


async def test_a_failed_write_changes_nothing(server: Harness) -> None:
    sid = new_id()
    assert (await server.chat(sid, "hi")).status_code == 200
    before = await server.wait_idle(sid)
    with full_disk(server.services.engine):
        for r in (
            await server.client.post("/api/system", params={"message": "note"}, headers=headers(sid)),
            await server.client.patch(f"/api/sessions/{sid}", json={"title": "Renamed"}),
            await server.client.post(f"/api/sessions/{sid}/archive"),
            await server.state(sid, user_state=json.dumps({"address": "0x" + "11" * 20})),
            await server.chat(sid, "lost?"),
        ):
            assert_unavailable(r)
    after = (await server.state(sid)).json()
    assert after == before  # no phantom message, title, flag or wallet
    info = (await server.client.get(f"/api/sessions/{sid}")).json()
    assert (info["title"], info["is_archived"]) == (before["title"], False)
    await assert_healthy(server, sid)


async def test_a_title_with_a_lone_surrogate_no_longer_poisons_the_session(server: Harness) -> None:
    sid = new_id()
    await server.chat(sid, "hi")
    await server.wait_idle(sid)
    r = await server.client.patch(
        f"/api/sessions/{sid}", content=b'{"title": "\\udc00x"}', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_input"
    assert "title" in r.json()["error"]["message"]
    await assert_healthy(server, sid)


HOSTILE: list[tuple[str, str, dict[str, Any], int]] = [
    ("POST", "/api/chat", {"params": {"message": "a\x00b"}}, 400),
    ("POST", "/api/chat", {"json": {"message": "a\x00b"}}, 400),
    ("POST", "/api/chat", {"content": b'{"message": "\\ud800"}'}, 400),
    (
        "POST",
        "/api/chat",
        {"json": {"message": "hi", "user_state": {"address": "0x" + "11" * 20, "ext": 9**30}}},
        400,
    ),
    ("POST", "/api/chat", {"content": b'{"message": "hi", "unread": ' + b"9" * 30 + b"}"}, 200),  # ignored
    ("POST", "/api/chat", {"content": b'{"message": "hi", "n": ' + b"9" * 5000 + b"}"}, 400),
    ("POST", "/api/chat", {"content": b"[" * 5000 + b"]" * 5000}, 400),
    ("POST", "/api/chat", {"content": b'{"message": "hi", "x": NaN}'}, 400),
    ("POST", "/api/chat", {"params": {"message": "hi", "user_state": "[" * 5000}}, 400),
    ("POST", "/api/chat", {"params": {"message": "hi", "user_state": '{"address": "\\udc00"}'}}, 400),
    ("POST", "/api/chat", {"params": {"message": "hi", "client_id": "a\x00"}}, 400),
    ("POST", "/api/system", {"params": {"message": "x\x00"}}, 400),
    ("POST", "/api/system", {"params": {"message": '{"a": "\\udc00"}'}}, 400),
    ("POST", "/api/system", {"params": {"message": "[" * 5000 + "]" * 5000}}, 200),  # text, not JSON
    ("GET", "/api/state", {"params": {"client_id": "x\x00"}}, 400),
    ("GET", "/api/events", {"params": {"count": str(2**64)}}, 400),
    ("GET", "/api/events", {"params": {"count": "²"}}, 400),
    ("GET", "/api/events", {"params": {"count": "1" * 5000}}, 400),
    ("GET", "/api/sessions", {"params": {"public_key": "0x" + "11" * 20, "limit": str(2**70)}}, 400),
    (
        "GET",
        "/api/sessions",
        {"params": {"public_key": "0x" + "11" * 20, "cursor": "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTpu"}},
        400,
    ),
    ("POST", "/api/control/model", {"params": {"rig": "off\x00line"}}, 400),
    ("POST", "/api/sessions", {"json": {"public_key": "0x\x00"}}, 400),
]


@pytest.mark.parametrize(("method", "path", "kw", "status"), HOSTILE)
async def test_hostile_input_is_a_clear_4xx_and_harms_nothing(
    server: Harness, method: str, path: str, kw: dict[str, Any], status: int
) -> None:
    sid = new_id()
    await server.chat(sid, "hi")
    await server.wait_idle(sid)
    r = await server.client.request(method, path, headers=headers(sid), **kw)
    assert r.status_code == status, r.text
    if status >= 400:
        assert r.json()["error"]["code"] in {"invalid_input", "invalid_user_state", "invalid_address"}, r.text
    await server.wait_idle(sid)
    await assert_healthy(server, sid)


async def test_event_ids_out_of_range_are_400(server: Harness) -> None:
    sid = new_id()
    for value in (str(2**64), "²", "1" * 5000, "-1"):
        r = await server.client.get("/api/updates", headers=headers(sid), params={"last_event_id": value})
        assert r.status_code == 400, value
        if value.isascii():
            r = await server.client.get("/api/updates", headers={**headers(sid), "Last-Event-ID": value})
            assert r.status_code == 400, value


async def test_header_count_and_size_limits(server: Harness) -> None:
    many = {f"X-Filler-{i}": "x" for i in range(150)}
    r = await server.client.get("/api/state", headers={**headers(new_id()), **many})
    assert r.status_code == 431 and r.json()["error"]["code"] == "headers_too_large"
    r = await server.client.get("/api/state", headers={**headers(new_id()), "X-Big": "x" * 100_000})
    assert r.status_code == 431


async def test_writes_racing_a_delete_answer_404_never_500(server: Harness) -> None:
    sid = new_id()
    await server.chat(sid, "hi")
    await server.wait_idle(sid)
    # Another replica deletes the session: this server still holds it in memory.
    await server.services.manager.store.delete(sid)
    r = await server.client.patch(f"/api/sessions/{sid}", json={"title": "Renamed"})
    assert r.status_code == 404, r.text
    # The stale copy is gone from memory: the session can be created anew.
    r = await server.client.post("/api/system", params={"message": "again"}, headers=headers(sid))
    assert r.status_code == 200
    for _ in range(3):  # and concurrently with a delete here: each write succeeds first or is a 404
        results = await asyncio.gather(
            server.client.delete(f"/api/sessions/{sid}"),
            *(
                server.client.post("/api/system", params={"message": f"m{i}"}, headers=headers(sid))
                for i in range(8)
            ),
            server.client.patch(f"/api/sessions/{sid}", json={"title": "T"}),
            server.state(sid, user_state=json.dumps({"address": "0x" + "22" * 20})),
        )
        assert {r.status_code for r in results} <= {200, 404}, [
            r.text for r in results if r.status_code >= 500
        ]
    await assert_healthy(server, sid)


async def _drop_and_recreate(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(
        url.replace("postgresql+asyncpg", "postgresql").rsplit("/", 1)[0] + "/postgres"
    )
    try:
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()


async def test_an_outage_is_503_and_the_server_recovers_by_itself(
    api_settings: Settings, models: ModelRegistry
) -> None:
    """PostgreSQL: the database is dropped and recreated empty. SQLite: a full disk. /ready tells,
    requests answer 503, and the server serves again once the database is back, unrestarted."""
    settings = api_settings.model_copy(update={"lease_seconds": 1.5})
    async with running(settings, models) as h:
        sid = new_id()
        await h.chat(sid, "hi")
        await h.wait_idle(sid)
        if settings.resolved_database_url.startswith("postgresql"):
            await _drop_and_recreate(settings.resolved_database_url)
            h.services.manager.forget(sid)
            ready = await h.client.get("/ready")
            if ready.status_code == 503:  # until the maintenance pass migrates the new database
                assert_unavailable(await h.state(sid))
            deadline = asyncio.get_running_loop().time() + 15
            while (await h.client.get("/ready")).status_code != 200:
                assert asyncio.get_running_loop().time() < deadline, "the server did not recover"
                await asyncio.sleep(0.1)
            assert (await h.state(sid)).json()["messages"] == []  # the data went with the database
        else:
            with full_disk(h.services.engine):
                ready = await h.client.get("/ready")
                assert ready.status_code == 503 and "unavailable" in ready.text
                assert_unavailable(await h.chat(sid, "now?"))
            assert (await h.client.get("/ready")).status_code == 200
        await assert_healthy(h, sid)


async def test_a_turn_caught_by_an_outage_says_so(
    api_settings: Settings, models: ModelRegistry, slow: SlowModel
) -> None:
    settings = api_settings.model_copy(update={"lease_seconds": 1.0})
    async with running(settings, models) as h:
        key = await h.issue_key("slowapp")
        sid = new_id()
        assert (await h.chat(sid, "tell me", app="slowapp", key=key)).status_code == 200
        await slow.started.wait()
        with full_disk(h.services.engine):
            slow.release.set()
            await until(lambda: not h.services.manager.running(), "the turn ends")
        body = await poll(
            lambda: h.state(sid, key=key), lambda b: not b["is_processing"] and b["system_events"] != [], 10
        )
        assert body["status"] == "interrupted"
        assert body["system_events"] == [{"SystemError": OUTAGE_ORPHAN_MESSAGE}]


async def test_an_interrupt_landing_while_a_turn_ends_never_leaves_it_processing(
    server: Harness, slow: SlowModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the property test: a second cancellation reaching the turn while it wrote its end
    left the session `processing` for good."""
    store = server.services.manager.store
    finish, writing = store.finish_turn, asyncio.Event()

    async def slow_finish(*args: Any, **kwargs: Any) -> None:
        writing.set()
        await asyncio.sleep(0.2)
        await finish(*args, **kwargs)

    monkeypatch.setattr(store, "finish_turn", slow_finish)
    key = await server.issue_key("slowapp")
    sid = new_id()
    assert (await server.chat(sid, "tell me", app="slowapp", key=key)).status_code == 200
    await slow.started.wait()
    first = asyncio.ensure_future(server.client.post("/api/interrupt", headers=headers(sid, key)))
    await writing.wait()  # the turn is writing its end: interrupt it again
    second = await server.client.post("/api/interrupt", headers=headers(sid, key))
    assert second.status_code == 200 and (await first).status_code == 200
    body = await server.wait_idle(sid, key=key)
    assert body["status"] == "interrupted"
    assert not server.services.manager.running()


async def test_a_read_only_sqlite_file_is_503_not_500(
    tmp_path: Path, models: ModelRegistry, price_api: FakePriceApi
) -> None:
    """A real read-only database (opened read-only, since root ignores file modes): reads
    work, writes and /ready answer 503, nothing half-applied. SQLite only: PostgreSQL's outage
    is the dropped database above."""
    path = tmp_path / "aomi.db"
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{path}",
        apps_dir=tmp_path,
        secret_key=SecretStr(TEST_SECRET),
        price_api_url=price_api.url,
    )
    sid = new_id()
    async with running(settings, models) as h:
        await h.chat(sid, "hi")
        before = await h.wait_idle(sid)
    read_only = settings.model_copy(
        update={"database_url": f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true"}
    )
    read_only.__dict__.pop("resolved_database_url", None)  # a cached property model_copy carried over
    async with running(read_only, models) as h:
        assert (await h.state(sid)).json() == before
        ready = await h.client.get("/ready")
        assert ready.status_code == 503 and "unavailable" in ready.text
        assert_unavailable(await h.chat(sid, "write?"))
        assert_unavailable(await h.client.patch(f"/api/sessions/{sid}", json={"title": "T"}))
        assert (await h.state(sid)).json() == before
