"""The `/api/state` fast path answers exactly what the route would, and only when nothing
would change; every other case reaches the route."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aomi.sessions.model import SYSTEM_ERROR
from aomi.sessions.service import SessionService
from aomi.settings import Settings
from tests.support.harness import Harness, new_id, running, write_app

WALLET = json.dumps(
    {"address": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "chain_id": 1, "is_connected": True}
)


class RouteCalls:
    """Counts the state route's calls (each takes the client's state before its snapshot)."""

    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def route_calls(server: Harness, monkeypatch: pytest.MonkeyPatch) -> RouteCalls:
    calls = RouteCalls()
    original = SessionService.take_client_state

    async def counted(self: SessionService, *args: Any, **kwargs: Any) -> None:
        calls.count += 1
        await original(self, *args, **kwargs)

    monkeypatch.setattr(SessionService, "take_client_state", counted)
    return calls


async def _warm(server: Harness, app: str = "openapp") -> str:
    sid = new_id()
    assert (await server.chat(sid, "hello", app=app)).status_code == 200
    await server.wait_idle(sid, app=app)
    return sid


async def test_a_warm_poll_is_served_from_memory_with_the_same_bytes(
    server: Harness, route_calls: RouteCalls
) -> None:
    sid = await _warm(server)
    full = await server.state(sid, app="openapp")
    calls = route_calls.count
    fast = await server.state(sid, app="openapp")
    assert route_calls.count == calls  # the route did not run
    assert fast.status_code == 200 and fast.content == full.content
    assert fast.headers["content-type"] == "application/json"
    assert fast.headers["x-content-type-options"] == "nosniff" and "x-request-id" in fast.headers
    # The client's own state, once applied by the route, takes the fast path too.
    await server.state(sid, app="openapp", user_state=WALLET, client_id="c1")
    calls = route_calls.count
    again = await server.state(sid, app="openapp", user_state=WALLET, client_id="c1")
    assert route_calls.count == calls
    assert json.loads(again.content)["user_state"]["address"] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


@pytest.mark.parametrize(
    "variant",
    [
        "bad key",
        "two keys",
        "other wallet",
        "other client",
        "extra param",
        "new message",
        "pending event",
        "upper-case id",
    ],
)
async def test_everything_else_reaches_the_route(
    server: Harness, route_calls: RouteCalls, variant: str
) -> None:
    sid = await _warm(server)
    await server.state(sid, app="openapp", user_state=WALLET, client_id="c1")
    params: dict[str, str] = {"user_state": WALLET, "client_id": "c1"}
    key: str | None = None
    state_sid = sid
    expected = 200
    if variant == "bad key":
        key, expected = "sk-nope-" + "x" * 43, 401
    elif variant == "two keys":
        pass  # sent below, with both headers
    elif variant == "other wallet":
        params["user_state"] = WALLET.replace('"chain_id": 1', '"chain_id": 8453')
    elif variant == "other client":
        params["client_id"] = "c2"
    elif variant == "extra param":
        params["debug"] = "1"
    elif variant == "new message":
        await server.client.post("/api/system", params={"message": "note"}, headers={"X-Session-Id": sid})
    elif variant == "pending event":  # an event the next snapshot must deliver (once)
        session = server.services.manager.peek(sid)
        assert session is not None
        await server.services.manager.add_event(session, SYSTEM_ERROR, "it broke")
    elif variant == "upper-case id":
        state_sid = sid.upper()
    calls = route_calls.count
    if variant == "two keys":
        headers = {
            "X-Session-Id": sid,
            "AOMI-APP-KEY": await server.issue_key("openapp"),
            "X-API-Key": "other",
        }
        r = await server.client.get("/api/state", params={"app": "openapp"}, headers=headers)
        assert r.status_code == 400 and r.json()["error"]["code"] == "conflicting_keys"
        return
    r = await server.state(state_sid, app="openapp", key=key, **params)
    assert r.status_code == expected, r.text
    if expected == 200:
        assert route_calls.count == calls + 1
    if variant == "new message":
        assert r.json()["messages"][-1]["content"] == "note"
    if variant == "pending event":
        assert r.json()["system_events"] == [{"SystemError": "it broke"}]


async def test_keys_and_the_session_id_credential(server: Harness, route_calls: RouteCalls) -> None:
    key = await server.issue_key("mycoindex")
    sid = new_id()
    await server.chat(sid, "hello", app="mycoindex", key=key)
    await server.wait_idle(sid, app="mycoindex", key=key)
    await server.state(sid, app="mycoindex", key=key)
    calls = route_calls.count
    assert (await server.state(sid, app="mycoindex", key=key)).status_code == 200  # a cached key
    assert (await server.state(sid, app="mycoindex")).status_code == 200  # the session id suffices
    assert route_calls.count == calls
    other = await server.issue_key("openapp")
    r = await server.state(sid, app="mycoindex", key=other)  # a key that does not cover the App
    assert r.status_code == 403
    r = await server.state(new_id(), app="openapp")  # unknown: the route's empty snapshot
    assert r.json()["messages"] == []


async def test_with_key_access_only_a_key_reads_a_keyed_session(settings: Settings) -> None:
    write_app(settings.apps_dir, "keyed")
    async with running(settings.model_copy(update={"session_access": "key"})) as h:
        key = await h.issue_key("keyed")
        sid = new_id()
        await h.chat(sid, "hello", app="keyed", key=key)
        await h.wait_idle(sid, app="keyed", key=key)
        assert (await h.state(sid, app="keyed", key=key)).status_code == 200
        assert (await h.state(sid, app="keyed")).status_code == 401
