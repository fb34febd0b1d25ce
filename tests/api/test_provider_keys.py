"""BYOK routes as the public client calls them (only `X-Session-Id`), on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from aomi.agent.models import ModelRegistry
from aomi.agent.specs import PROVIDER_NAMES, ModelSpec
from aomi.settings import Settings
from tests.support.harness import Harness, headers, new_id, running

PATH = "/api/control/provider-keys"
ANTHROPIC_KEY = "sk-ant-api03-" + "Qx7" * 30
OPENAI_KEY = "sk-proj-" + "Zq9Lm" * 10


def _error(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    return message


async def _session(
    h: Harness, client_id: str | None = None, app: str | None = None, key: str | None = None
) -> str:
    """A session started the way the public client starts one: a chat carrying its client id."""
    sid = new_id()
    params = {"client_id": client_id} if client_id else {}
    r = await h.chat(sid, "hello", app=app, key=key, **params)
    assert r.status_code == 200, r.text
    await h.wait_idle(sid, app=app, key=key)
    return sid


async def _save(h: Harness, sid: str, body: Any, key: str | None = None, **params: str) -> httpx.Response:
    return await h.client.post(PATH, json=body, params=params, headers=headers(sid, key))


async def _list(h: Harness, sid: str, key: str | None = None, **params: str) -> Any:
    r = await h.client.get(PATH, params=params, headers=headers(sid, key))
    assert r.status_code == 200, r.text
    return r.json()["provider_keys"]


async def test_a_clients_keys_through_the_public_clients_calls(
    server: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sid = await _session(server, "client-A")
    assert await _list(server, sid) == []

    r = await _save(server, sid, {"provider": "anthropic", "api_key": ANTHROPIC_KEY, "label": "work"})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "key": {"provider": "anthropic", "key_prefix": "sk-ant-", "label": "work", "is_active": True}
    }
    r = await _save(server, sid, {"provider": "openai", "api_key": OPENAI_KEY})  # the client omits label
    assert r.json()["key"] == {
        "provider": "openai",
        "key_prefix": "sk-proj",
        "label": None,
        "is_active": True,
    }
    listed = await _list(server, sid)
    assert [(e["provider"], e["label"]) for e in listed] == [("anthropic", "work"), ("openai", None)]

    # Replacing keeps one key per provider.
    r = await _save(
        server, sid, {"provider": "anthropic", "api_key": "sk-ant-other-" + "w" * 30, "label": None}
    )
    assert r.status_code == 200
    assert [e["label"] for e in await _list(server, sid)] == [None, None]
    assert await server.services.provider_keys.key_for("client-A", "anthropic") == "sk-ant-other-" + "w" * 30

    # Every session of the client shares its keys; another client sees none of them.
    same_client = await _session(server, "client-A")
    assert [e["provider"] for e in await _list(server, same_client)] == ["anthropic", "openai"]
    other_client = await _session(server, "client-B")
    assert await _list(server, other_client) == []
    r = await server.client.delete(f"{PATH}/openai", headers=headers(other_client))
    assert r.json() == {"deleted": False}
    assert len(await _list(server, sid)) == 2

    r = await server.client.delete(f"{PATH}/openai", headers=headers(sid))
    assert r.status_code == 200 and r.json() == {"deleted": True}
    r = await server.client.delete(f"{PATH}/openai", headers=headers(sid))
    assert r.status_code == 200 and r.json() == {"deleted": False}
    assert [e["provider"] for e in await _list(server, same_client)] == ["anthropic"]

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert ANTHROPIC_KEY not in logged and OPENAI_KEY not in logged and "wwwwwwwwww" not in logged


async def test_a_session_without_client_id_owns_its_keys(server: Harness) -> None:
    sid = await _session(server)
    r = await _save(server, sid, {"provider": "groq", "api_key": "gsk_" + "g" * 40})
    assert r.status_code == 200
    assert await server.services.provider_keys.key_for(f"session:{sid}", "groq") == "gsk_" + "g" * 40
    assert await _list(server, await _session(server)) == []


async def test_an_unknown_session_is_not_created(server: Harness) -> None:
    sid = new_id()
    assert await _list(server, sid) == []
    r = await _save(server, sid, {"provider": "mistral", "api_key": "m" * 32})
    assert r.status_code == 200, r.text
    assert (await server.client.get(f"/api/sessions/{sid}")).status_code == 404
    # The session created later (without a client id) finds the key it saved.
    await server.chat(sid, "hello")
    await server.wait_idle(sid)
    assert [e["provider"] for e in await _list(server, sid)] == ["mistral"]
    # Naming a keyed App without its key is refused, as for any keyed request.
    _error(
        await _save(server, new_id(), {"provider": "openai", "api_key": OPENAI_KEY}, app="mycoindex"),
        401,
        "app_key_required",
    )


async def test_a_keyed_apps_session_takes_the_session_id_as_credential(server: Harness) -> None:
    key = await server.issue_key("mycoindex")
    sid = await _session(server, "client-K", app="mycoindex", key=key)
    r = await _save(server, sid, {"provider": "openai", "api_key": OPENAI_KEY})  # no key, as the client does
    assert r.status_code == 200, r.text
    assert [e["provider"] for e in await _list(server, sid)] == ["openai"]
    assert [e["provider"] for e in await _list(server, sid, key=key)] == ["openai"]
    other = await server.issue_key("other")
    _error(await server.client.get(PATH, headers=headers(sid, other)), 403, "session_forbidden")
    _error(await server.client.get(PATH, headers=headers(sid, "sk-bad-" + "x" * 40)), 401, "invalid_app_key")
    r = await server.client.delete(f"{PATH}/openai", headers=headers(sid, other))
    _error(r, 403, "session_forbidden")
    assert (await server.client.delete(f"{PATH}/openai", headers=headers(sid))).json() == {"deleted": True}


async def test_strict_access_needs_the_key(api_settings: Settings, models: ModelRegistry) -> None:
    strict = api_settings.model_copy(update={"session_access": "key"})
    async with running(strict, models) as h:
        key = await h.issue_key("mycoindex")
        sid = await _session(h, "client-S", app="mycoindex", key=key)
        _error(await _save(h, sid, {"provider": "openai", "api_key": OPENAI_KEY}), 403, "session_forbidden")
        r = await _save(h, sid, {"provider": "openai", "api_key": OPENAI_KEY}, key=key)
        assert r.status_code == 200, r.text


async def test_bad_input_is_a_clear_400(server: Harness) -> None:
    sid = await _session(server, "client-X")
    message = _error(
        await _save(server, sid, {"provider": "openia", "api_key": OPENAI_KEY}), 400, "invalid_input"
    )
    assert "openia" in message and all(p in message for p in PROVIDER_NAMES)
    cases: list[tuple[Any, str]] = [
        ({"api_key": OPENAI_KEY}, "provider is required"),
        ({"provider": "openai"}, "api_key is required"),
        ({"provider": "openai", "api_key": ""}, "api_key is required"),
        ({"provider": "openai", "api_key": "  "}, "api_key is required"),
        ({"provider": "openai", "api_key": "k" * 501}, "limit is 500"),
        ({"provider": "openai", "api_key": "sk with spaces inside"}, "printable ASCII"),
        ({"provider": "openai", "api_key": OPENAI_KEY, "label": "l" * 201}, "limit is 200"),
        ({"provider": "openai", "api_key": OPENAI_KEY, "label": 7}, "label must be a string"),
        ({"provider": ["openai"], "api_key": OPENAI_KEY}, "provider must be a string"),
        ({"provider": "openai", "api_key": 12345}, "api_key must be a string"),
        (["openai", OPENAI_KEY], "JSON object"),
    ]
    for body, expected in cases:
        message = _error(await _save(server, sid, body), 400, "invalid_input")
        assert expected in message, (body, message)
        assert OPENAI_KEY not in message
    r = await server.client.post(
        PATH, content=b"{not json", headers={**headers(sid), "Content-Type": "application/json"}
    )
    assert "not valid JSON" in _error(r, 400, "invalid_input")
    _error(await server.client.post(PATH, headers=headers(sid)), 400, "invalid_input")  # no body
    _error(await server.client.delete(f"{PATH}/nope", headers=headers(sid)), 400, "invalid_input")
    _error(await server.client.get(PATH), 400, "missing_session_id")
    _error(await server.client.get(PATH, headers={"X-Session-Id": "nope"}), 400, "invalid_session_id")
    assert await _list(server, sid) == []


async def test_a_saved_key_offers_the_providers_models(api_settings: Settings, models: ModelRegistry) -> None:
    models.add_spec(ModelSpec("gpt", "openai", "gpt-4o", api_key=None))  # the server holds no key
    async with running(api_settings, models) as h:
        sid = await _session(h, "client-M")
        offered = await h.client.get("/api/control/models", headers=headers(sid))
        assert "gpt" not in offered.json()
        assert (await _save(h, sid, {"provider": "openai", "api_key": OPENAI_KEY})).status_code == 200
        offered = await h.client.get("/api/control/models", headers=headers(sid))
        assert "gpt" in offered.json()
        r = await h.client.post("/api/control/model", params={"rig": "gpt"}, headers=headers(sid))
        assert r.status_code == 200, r.text
        await h.client.delete(f"{PATH}/openai", headers=headers(sid))
        assert "gpt" not in (await h.client.get("/api/control/models", headers=headers(sid))).json()


async def test_deleting_a_session_deletes_the_keys_it_owned_not_its_clients(server: Harness) -> None:
    own, client = await _session(server), await _session(server, client_id="client-7")
    assert (await _save(server, own, {"provider": "groq", "api_key": "gsk_" + "g" * 40})).status_code == 200
    assert (await _save(server, client, {"provider": "openai", "api_key": OPENAI_KEY})).status_code == 200
    for sid in (own, client):
        assert (await server.client.delete(f"/api/sessions/{sid}", headers=headers(sid))).status_code == 200
    keys = server.services.provider_keys
    assert await keys.key_for(f"session:{own}", "groq") is None
    assert await keys.key_for("client-7", "openai") == OPENAI_KEY
