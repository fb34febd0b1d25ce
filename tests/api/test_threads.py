"""A client's whole life with threads (SPEC 4.3), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from aomi.db import tables as t
from tests.support.harness import Harness, headers, new_id

ALICE = "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045"
BOB = "0x" + "b0" * 20


async def _create(h: Harness, sid: str, wallet: str, app: str | None = None, key: str | None = None) -> Any:
    body: dict[str, str] = {"public_key": wallet}
    if app:
        body["app"] = app
    r = await h.client.post("/api/sessions", json=body, headers=headers(sid, key))
    assert r.status_code == 200, r.text
    return r.json()


async def _list(h: Harness, wallet: str, key: str | None = None, **params: Any) -> Any:
    r = await h.client.get(
        "/api/sessions", params={"public_key": wallet, **params}, headers=headers(None, key)
    )
    assert r.status_code == 200, r.text
    return r


async def test_a_clients_whole_life(server: Harness) -> None:
    sid = new_id()
    assert await _create(server, sid, ALICE.lower()) == {"session_id": sid, "title": "New Chat"}
    assert await _create(server, sid, ALICE) == {"session_id": sid, "title": "New Chat"}  # idempotent

    await server.chat(sid, "What is the price of ETH? Tell me now")
    done = await server.wait_idle(sid)
    assert done["title"] == "What is the price of ETH"

    listed = (await _list(server, ALICE)).json()
    assert [x["session_id"] for x in listed] == [sid]
    item = listed[0]
    assert set(item) == {"session_id", "title", "is_archived", "app", "created_at", "updated_at"}
    assert (item["title"], item["is_archived"], item["app"]) == ("What is the price of ETH", False, "default")
    assert item["created_at"] <= item["updated_at"]
    assert (await _list(server, BOB)).json() == []

    r = await server.client.patch(f"/api/sessions/{sid}", json={"title": "  My ETH thread "})
    assert r.status_code == 200 and r.json()["title"] == "My ETH thread"
    await server.chat(sid, "and BTC?")
    assert (await server.wait_idle(sid))["title"] == "My ETH thread"

    r = await server.client.post(f"/api/sessions/{sid}/archive")
    assert r.status_code == 200 and r.json()["is_archived"] is True
    stored = await server.services.manager.store.load(sid)
    assert stored is not None and stored.archived and stored.title_manual
    assert (await _list(server, ALICE)).json()[0]["is_archived"] is True
    r = await server.client.post(f"/api/sessions/{sid}/unarchive")
    assert r.json()["is_archived"] is False
    assert (await server.client.get(f"/api/sessions/{sid}")).json()["is_archived"] is False

    r = await server.client.delete(f"/api/sessions/{sid}")
    assert r.status_code == 200 and r.json() == {"deleted": True}
    assert (await server.client.get(f"/api/sessions/{sid}")).status_code == 404
    assert (await server.state(sid)).json()["messages"] == []
    assert (await _list(server, ALICE)).json() == []
    async with server.services.engine.connect() as conn:
        for table in (t.sessions, t.messages, t.session_events):
            assert await conn.scalar(select(func.count()).select_from(table)) == 0, table.name


async def test_listing_pages_most_recent_first(server: Harness) -> None:
    sids = [new_id() for _ in range(5)]
    for sid in sids:
        await _create(server, sid, ALICE)
        await server.chat(sid, f"hello {sid[:4]}")
        await server.wait_idle(sid)
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await _list(server, ALICE, **params)
        seen += [x["session_id"] for x in r.json()]
        cursor = r.headers.get("x-next-cursor")
        if cursor is None:
            break
    assert seen == list(reversed(sids))


async def test_listing_shows_only_apps_the_caller_may_use(server: Harness) -> None:
    key = await server.issue_key("mycoindex")
    public, keyed = new_id(), new_id()
    await _create(server, public, ALICE)
    await _create(server, keyed, ALICE, app="mycoindex", key=key)
    assert [x["session_id"] for x in (await _list(server, ALICE)).json()] == [public]
    assert {x["session_id"] for x in (await _list(server, ALICE, key=key)).json()} == {public, keyed}
    bad = await server.client.get(
        "/api/sessions", params={"public_key": ALICE}, headers={"AOMI-APP-KEY": "sk-x-" + "y" * 30}
    )
    assert bad.status_code == 401


async def test_thread_input_errors(server: Harness) -> None:
    sid = new_id()
    await _create(server, sid, ALICE)
    cases = [
        ("GET", "/api/sessions", {}),
        ("GET", "/api/sessions?public_key=0x12", {}),
        ("GET", f"/api/sessions?public_key={ALICE}&cursor=!!!", {}),
        ("GET", f"/api/sessions?public_key={ALICE}&limit=0", {}),
        ("GET", "/api/sessions/not-a-uuid", {}),
        ("GET", f"/api/sessions/{sid}", {"X-Session-Id": new_id()}),
        ("PATCH", f"/api/sessions/{sid}", {}),
        ("POST", "/api/sessions", {}),
    ]
    for method, path, hdrs in cases:
        r = await server.client.request(method, path, headers=hdrs)
        assert r.status_code == 400, (method, path, r.text)
        assert "error" in r.json()
    for title in ("", "   ", "x" * 201, 5):
        r = await server.client.patch(f"/api/sessions/{sid}", json={"title": title})
        assert r.status_code == 400, title
    bad_key = await server.client.post("/api/sessions", json={"public_key": "0x1"}, headers=headers(new_id()))
    assert bad_key.status_code == 400
    for method in ("GET", "PATCH", "DELETE"):
        r = await server.client.request(method, f"/api/sessions/{new_id()}", json={"title": "x"})
        assert r.status_code == 404, method
    assert (await server.client.post(f"/api/sessions/{new_id()}/archive")).status_code == 404


async def test_delete_interrupts_a_running_turn(server: Harness, slow: Any) -> None:
    import asyncio

    key = await server.issue_key("slowapp")
    sid = new_id()
    await server.chat(sid, "long one", app="slowapp", key=key)
    await asyncio.wait_for(slow.started.wait(), 5)
    r = await server.client.delete(
        f"/api/sessions/{sid}", params={"app": "slowapp"}, headers={"AOMI-APP-KEY": key}
    )
    assert r.status_code == 200
    assert slow.cancelled
    assert await server.services.manager.store.load(sid) is None
