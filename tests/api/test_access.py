"""SPEC 3 step 7: the session-id capability, the strict mode, and event streams that must stop.

Everything runs on a real uvicorn server (the event stream is one of the routes), on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from aomi.agent.models import ModelRegistry
from aomi.api.auth import SESSION_ID_ROUTES
from aomi.settings import Settings
from aomi.timeutil import now_ms
from tests.support.harness import LiveServer, SlowModel, SseReader, new_id, serving, subscribe

# The read and steering routes of SPEC 3 step 7 (the BYOK routes come with provider keys).
# DELETE last: it ends the session.
ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/state", {}),
    ("GET", "/api/updates", {}),
    ("GET", "/api/events", {}),
    ("POST", "/api/interrupt", {}),
    ("POST", "/api/system", {"params": {"message": "wallet connected"}}),
    ("GET", "/api/sessions/{sid}", {}),
    ("PATCH", "/api/sessions/{sid}", {"json": {"title": "Renamed"}}),
    ("POST", "/api/sessions/{sid}/archive", {}),
    ("POST", "/api/sessions/{sid}/unarchive", {}),
    ("DELETE", "/api/sessions/{sid}", {}),
]


def test_the_matrix_walks_every_session_id_route_that_exists() -> None:
    walked = {(method, path.replace("{sid}", "{session_id}")) for method, path, _ in ROUTES}
    byok = {route for route in SESSION_ID_ROUTES if "provider-keys" in route[1]}
    assert walked == SESSION_ID_ROUTES - byok


@dataclass
class Keys:
    right: str
    other: str


@asynccontextmanager
async def live_server(settings: Settings, models: ModelRegistry) -> AsyncIterator[tuple[LiveServer, Keys]]:
    async with serving(settings, models) as live:
        right = (await live.services.keys.create(["mycoindex", "slowapp"])).key
        other = (await live.services.keys.create(["other"])).key
        yield live, Keys(right, other)


@asynccontextmanager
async def keyed_chat(
    settings: Settings, models: ModelRegistry, app: str, message: str
) -> AsyncIterator[tuple[httpx.AsyncClient, SseReader, str]]:
    """As the public client starts a keyed App's session: the event stream first, with only the
    session id, then the chat with the key (answered 200 with the turn running)."""
    async with (
        live_server(settings, models) as (live, keys),
        httpx.AsyncClient(base_url=live.url, timeout=10) as client,
        AsyncExitStack() as stack,
    ):
        sid = new_id()
        reader = await subscribe(stack, client, sid)
        r = await client.post(
            "/api/chat",
            params={"message": message, "app": app},
            headers={"X-Session-Id": sid, "X-API-Key": keys.right},
        )
        assert r.status_code == 200 and r.json()["is_processing"] is True
        yield client, reader, sid


async def _status(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], **kw: Any
) -> int:
    """The status of a request; an event stream is opened, its status read, and closed."""
    if path == "/api/updates":
        async with client.stream(method, path, headers={**headers, "Accept": "text/event-stream"}) as r:
            return r.status_code
    r = await client.request(method, path, headers=headers, **kw)
    if r.status_code >= 400:
        assert set(r.json()["error"]) == {"code", "message"}, r.text
    return r.status_code


async def _keyed_session(client: httpx.AsyncClient, key: str, app: str = "mycoindex") -> str:
    sid = new_id()
    r = await client.post("/api/sessions", json={"app": app}, headers={"X-Session-Id": sid, "X-API-Key": key})
    assert r.status_code == 200, r.text
    return sid


async def _walk(live: LiveServer, keys: Keys, expected_without_key: int) -> list[str]:
    """Every route with every credential on a fresh keyed session; the mismatches, described."""
    credentials = {
        "no key": ({}, expected_without_key),
        "the right key": ({"AOMI-APP-KEY": keys.right}, 200),
        "an invalid key": ({"AOMI-APP-KEY": "sk-bad-" + "x" * 40}, 401),
        "another App's key": ({"X-API-Key": keys.other}, 403),
    }
    wrong = []
    async with httpx.AsyncClient(base_url=live.url, timeout=10) as client:
        for method, template, kw in ROUTES:
            for name, (creds, expected) in credentials.items():
                sid = await _keyed_session(client, keys.right)
                path = template.replace("{sid}", sid)
                got = await _status(client, method, path, {"X-Session-Id": sid, **creds}, **kw)
                if got != expected:
                    wrong.append(f"{method} {template} with {name}: {got}, expected {expected}")
    return wrong


async def test_session_id_is_a_credential_on_existing_sessions(
    api_settings: Settings, models: ModelRegistry
) -> None:
    async with live_server(api_settings, models) as (live, keys):
        assert await _walk(live, keys, expected_without_key=200) == []


async def test_strict_mode_needs_the_key_on_every_session_route(
    api_settings: Settings, models: ModelRegistry
) -> None:
    strict = api_settings.model_copy(update={"session_access": "key"})
    async with live_server(strict, models) as (live, keys):
        assert await _walk(live, keys, expected_without_key=403) == []
        async with httpx.AsyncClient(base_url=live.url) as client:
            sid = await _keyed_session(client, keys.right)
            r = await client.get("/api/state", headers={"X-Session-Id": sid})
            assert r.json()["error"]["code"] == "session_forbidden"


@pytest.mark.parametrize("access", ["session-id", "key"])
async def test_what_spends_or_creates_always_needs_the_key(
    api_settings: Settings, models: ModelRegistry, access: str
) -> None:
    settings = api_settings.model_copy(update={"session_access": access})
    async with live_server(settings, models) as (live, keys), httpx.AsyncClient(base_url=live.url) as client:
        sid, fresh = await _keyed_session(client, keys.right), new_id()
        plain = {"X-Session-Id": sid}
        cases = [
            (client.post("/api/chat", params={"message": "hi", "app": "mycoindex"}, headers=plain), 401),
            (client.post("/api/chat", params={"message": "hi", "app": "default"}, headers=plain), 403),
            (client.post("/api/chat", params={"message": "hi"}, headers=plain), 403),
            (client.post("/api/control/model", params={"rig": "offline"}, headers=plain), 403),
            (
                client.post(
                    "/api/control/model", params={"rig": "offline", "app": "mycoindex"}, headers=plain
                ),
                401,
            ),
            (client.post("/api/sessions", json={}, headers=plain), 403),
            (client.post("/api/sessions", json={"app": "mycoindex"}, headers={"X-Session-Id": fresh}), 401),
        ]
        for request, expected in cases:
            r = await request
            assert r.status_code == expected, (r.request.url, r.text)
            code = {401: "app_key_required", 403: "session_forbidden"}[expected]
            assert r.json()["error"]["code"] == code
        state = await client.get("/api/state", headers={"X-Session-Id": sid, "X-API-Key": keys.right})
        assert state.json()["messages"] == []  # nothing was stored
        assert await live.services.manager.store.load(fresh) is None


async def test_the_public_clients_request_sequence_for_a_keyed_app(
    api_settings: Settings, models: ModelRegistry
) -> None:
    """@aomi-labs/client 0.1.31: its Session opens /api/updates first, sends the key only on
    chat, and polls state, posts system messages and interrupts with only X-Session-Id."""
    async with keyed_chat(api_settings, models, "mycoindex", "What is the price of ETH?") as (
        client,
        reader,
        sid,
    ):
        only_id = {"X-Session-Id": sid}
        assert (await reader.next()).data == {"type": "turn_started", "session_id": sid}
        await reader.until("turn_finished")
        body = (await client.get("/api/state", headers=only_id)).json()
        assert body["is_processing"] is False and body["status"] == "idle"
        assert [m["sender"] for m in body["messages"]] == ["user", "agent", "agent"]
        assert "3,456.78" in body["messages"][-1]["content"]
        r = await client.post("/api/system", params={"message": "Wallet connected"}, headers=only_id)
        assert r.status_code == 200 and r.json()["res"]["sender"] == "system"
        notice = await reader.until("system_notice")
        assert notice.data["message"] == "Wallet connected"
        r = await client.post("/api/interrupt", headers=only_id)
        assert r.status_code == 200 and r.json()["is_processing"] is False


async def test_interrupting_a_keyed_turn_with_only_the_session_id(
    api_settings: Settings, models: ModelRegistry, slow: SlowModel
) -> None:
    async with keyed_chat(api_settings, models, "slowapp", "tell me") as (client, reader, sid):
        only_id = {"X-Session-Id": sid}
        await slow.started.wait()
        r = await client.post("/api/interrupt", headers=only_id)
        assert r.status_code == 200
        assert r.json()["status"] == "interrupted"
        assert r.json()["messages"][-1]["content"] == "Partial answer"
        assert slow.cancelled
        finished = await reader.until("turn_finished")
        assert finished.data["status"] == "interrupted"


@pytest.mark.parametrize("access", ["session-id", "key"])
async def test_a_stream_opened_before_its_session_existed(
    api_settings: Settings, models: ModelRegistry, access: str
) -> None:
    """Strict mode: once the session turns out to be a keyed App's, a keyless stream ends without
    delivering its events. With the session-id credential the stream holder follows the session."""
    settings = api_settings.model_copy(update={"session_access": access})
    async with keyed_chat(settings, models, "mycoindex", "hi") as (_, reader, _):
        if access == "key":
            assert await reader.rest() == []
        else:
            assert (await reader.until("turn_finished")).data["status"] == "idle"


@pytest.mark.parametrize("access", ["session-id", "key"])
@pytest.mark.parametrize("ending", ["revoked", "expired"])
async def test_a_stream_opened_with_a_key_ends_when_the_key_does(
    api_settings: Settings, models: ModelRegistry, access: str, ending: str
) -> None:
    settings = api_settings.model_copy(update={"session_access": access})
    async with (
        serving(settings, models) as live,
        httpx.AsyncClient(base_url=live.url, timeout=10) as client,
        AsyncExitStack() as stack,
    ):
        expires = now_ms() + 1500 if ending == "expired" else None
        issued = await live.services.keys.create(["mycoindex"], expires_ms=expires)
        sid = await _keyed_session(client, issued.key)
        headers = {"X-Session-Id": sid, "AOMI-APP-KEY": issued.key}
        reader = await subscribe(stack, client, sid, **{"AOMI-APP-KEY": issued.key})
        r = await client.post("/api/system", params={"message": "before"}, headers=headers)
        assert r.status_code == 200
        assert (await reader.next()).data["message"] == "before"
        if ending == "revoked":
            # As another process would: the database only, this server's key cache untouched.
            await live.services.keys.revoke(issued.record.id)
            ended_by = time.monotonic()
        else:
            assert expires is not None
            ended_by = time.monotonic() + (expires - now_ms()) / 1000
        assert await reader.rest(timeout=5) == []
        assert time.monotonic() - ended_by < 1.0  # SPEC 2.2: within 1 s
        r = await client.get("/api/state", headers={"X-Session-Id": sid, "AOMI-APP-KEY": issued.key})
        assert r.status_code == 401


async def test_models_without_app_answer_for_the_sessions_app(
    api_settings: Settings, models: ModelRegistry
) -> None:
    async with (
        live_server(api_settings, models) as (live, keys),
        httpx.AsyncClient(base_url=live.url) as client,
    ):
        sid = await _keyed_session(client, keys.right, app="slowapp")
        r = await client.get("/api/control/models", headers={"X-Session-Id": sid, "X-API-Key": keys.right})
        assert r.status_code == 200 and r.json() == ["slow", "offline"]
        r = await client.get("/api/control/models", headers={"X-Session-Id": sid})
        assert r.status_code == 401  # the session's App is keyed: models are listed with the key
        r = await client.get("/api/control/models", headers={"X-Session-Id": new_id()})
        assert r.status_code == 200 and r.json() == ["offline"]  # unknown session: the default App
        r = await client.get("/api/control/models", headers={"X-Session-Id": "nope"})
        assert r.status_code == 400
        r = await client.get(
            "/api/control/models",
            params={"app": "mycoindex"},
            headers={"X-Session-Id": sid, "X-API-Key": keys.right},
        )
        assert r.json() == ["offline"]  # an explicit app wins
