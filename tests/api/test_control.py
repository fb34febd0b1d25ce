"""Control routes (SPEC 4.5): Apps, models, a session's model; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import httpx

from tests.support.harness import Harness, SlowModel, headers, new_id


def _error(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text
    message: str = r.json()["error"]["message"]
    return message


async def set_model(
    server: Harness, sid: str | None, rig: str | None, *, key: str | None = None, **params: str
) -> httpx.Response:
    query = dict(params)
    if rig is not None:
        query["rig"] = rig
    return await server.client.post("/api/control/model", params=query, headers=headers(sid, key))


# -- apps ----------------------------------------------------------------------------------------


async def test_apps_without_key_lists_public_apps(server: Harness) -> None:
    r = await server.client.get("/api/control/apps")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == ["default", "openapp"]


async def test_a_key_widens_the_list(server: Harness) -> None:
    key = await server.issue_key("mycoindex", "other")
    r = await server.client.get("/api/control/apps", headers=headers(None, key))
    assert r.json() == ["default", "mycoindex", "openapp", "other"]


async def test_key_apps_that_no_longer_exist_or_are_public_are_listed_once(server: Harness) -> None:
    key = await server.issue_key("openapp", "gone", "slowapp")
    r = await server.client.get("/api/control/apps", headers=headers(None, key))
    assert r.json() == ["default", "openapp", "slowapp"]


async def test_apps_with_invalid_key_is_401(server: Harness) -> None:
    r = await server.client.get("/api/control/apps", headers=headers(None, "aomi_not_a_real_key"))
    _error(r, 401, "invalid_app_key")


async def test_namespaces_alias_gives_the_same(server: Harness) -> None:
    key = await server.issue_key("other")
    for h in ({}, headers(None, key)):
        apps = await server.client.get("/api/control/apps", headers=h)
        namespaces = await server.client.get("/api/control/namespaces", headers=h)
        assert namespaces.status_code == 200
        assert namespaces.json() == apps.json()
    detail = await server.client.get("/api/control/namespaces", params={"detail": "1"})
    assert [a["name"] for a in detail.json()] == ["default", "openapp"]


async def test_apps_detail_shape(server: Harness) -> None:
    key = await server.issue_key("slowapp")
    r = await server.client.get("/api/control/apps", params={"detail": "true"}, headers=headers(None, key))
    assert r.status_code == 200
    body = r.json()
    assert [a["name"] for a in body] == ["default", "openapp", "slowapp"]
    for entry in body:
        assert set(entry) == {"name", "description", "models", "secrets"}
        assert entry["secrets"] == []
    assert body[0]["models"] == ["offline"]
    assert body[0]["description"]
    assert body[2] == {
        "name": "slowapp",
        "description": "test App slowapp",
        "models": ["slow", "offline"],
        "secrets": [],
    }


async def test_apps_detail_flag_values(server: Harness) -> None:
    for value in ("false", "0"):
        r = await server.client.get("/api/control/apps", params={"detail": value})
        assert r.json() == ["default", "openapp"]
    for value in ("maybe", "FALSE", " 1"):  # exactly the four words the OpenAPI document lists
        r = await server.client.get("/api/control/apps", params={"detail": value})
        _error(r, 400, "invalid_input")


# -- models --------------------------------------------------------------------------------------


async def test_models_of_default_app(server: Harness) -> None:
    for params in ({}, {"app": "default"}, {"namespace": "default"}):
        r = await server.client.get("/api/control/models", params=params)
        assert r.status_code == 200, r.text
        assert r.json() == ["offline"]


async def test_models_of_keyed_app_default_first(server: Harness) -> None:
    key = await server.issue_key("slowapp")
    r = await server.client.get("/api/control/models", params={"app": "slowapp"}, headers=headers(None, key))
    assert r.json() == ["slow", "offline"]
    r = await server.client.get(
        "/api/control/models", params={"namespace": "slowapp"}, headers=headers(None, key)
    )
    assert r.json() == ["slow", "offline"]


async def test_models_authorization(server: Harness) -> None:
    r = await server.client.get("/api/control/models", params={"app": "slowapp"})
    _error(r, 401, "app_key_required")
    other = await server.issue_key("other")
    r = await server.client.get(
        "/api/control/models", params={"app": "slowapp"}, headers=headers(None, other)
    )
    _error(r, 403, "app_key_not_authorized")
    r = await server.client.get("/api/control/models", params={"app": "nope"}, headers=headers(None, other))
    _error(r, 404, "app_not_found")


# -- set a session's model -----------------------------------------------------------------------


async def test_set_model_creates_then_reuses_and_persists(server: Harness) -> None:
    key = await server.issue_key("slowapp")
    sid = new_id()
    r = await set_model(server, sid, "offline", key=key, app="slowapp", client_id="web-1")
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True, "rig": "offline", "baml": "offline", "created": True}
    stored = await server.services.manager.store.load(sid)
    assert stored is not None
    assert (stored.app, stored.model, stored.client_id) == ("slowapp", "offline", "web-1")

    r = await set_model(server, sid, "slow", key=key, app="slowapp")
    assert r.json() == {"success": True, "rig": "slow", "baml": "slow", "created": False}
    stored = await server.services.manager.store.load(sid)
    assert stored is not None
    assert (stored.model, stored.client_id) == ("slow", "web-1")


async def test_set_model_unknown_rig_is_400(server: Harness) -> None:
    sid = new_id()
    message = _error(await set_model(server, sid, "gpt-9"), 400, "unknown_model")
    assert "offline" in message
    assert await server.services.manager.store.load(sid) is None


async def test_set_model_rig_not_allowed_by_app_is_400(server: Harness) -> None:
    # `slow` is a model the server knows, but the default App does not allow it.
    message = _error(await set_model(server, new_id(), "slow"), 400, "unknown_model")
    assert "offline" in message and "default" in message


async def test_set_model_requires_rig(server: Harness) -> None:
    _error(await set_model(server, new_id(), None), 400, "invalid_input")


async def test_set_model_session_id_is_checked_first(server: Harness) -> None:
    _error(await set_model(server, None, None, app="slowapp"), 400, "missing_session_id")
    _error(await set_model(server, "not-a-uuid", "offline"), 400, "invalid_session_id")


async def test_set_model_authorizes_the_app(server: Harness) -> None:
    _error(await set_model(server, new_id(), "slow", app="slowapp"), 401, "app_key_required")
    other = await server.issue_key("other")
    _error(await set_model(server, new_id(), "slow", key=other, app="slowapp"), 403, "app_key_not_authorized")


async def test_set_model_on_session_of_another_app_is_403(server: Harness) -> None:
    sid = new_id()
    slow_key = await server.issue_key("slowapp")
    assert (await set_model(server, sid, "offline", key=slow_key, app="slowapp")).status_code == 200
    other = await server.issue_key("other")
    _error(await set_model(server, sid, "offline", key=other, app="other"), 403, "session_forbidden")
    stored = await server.services.manager.store.load(sid)
    assert stored is not None and stored.app == "slowapp"


async def test_chat_uses_the_model_set(server: Harness, slow: SlowModel) -> None:
    key = await server.issue_key("slowapp")
    sid = new_id()
    # slowapp's default is `slow`: switch to `offline`, and the turn must not reach the slow model.
    assert (await set_model(server, sid, "offline", key=key, app="slowapp")).status_code == 200
    assert (await server.chat(sid, "hello", app="slowapp", key=key)).status_code == 200
    await server.wait_idle(sid, app="slowapp", key=key)
    assert not slow.started.is_set()

    assert (await set_model(server, sid, "slow", key=key, app="slowapp")).status_code == 200
    assert (await server.chat(sid, "hello again", app="slowapp", key=key)).status_code == 200
    await asyncio.wait_for(slow.started.wait(), 5)
    slow.release.set()
    body = await server.wait_idle(sid, app="slowapp", key=key)
    assert body["messages"][-1]["content"] == "Partial answer and the rest."


async def test_set_model_during_a_turn_applies_and_persists_after_it(
    server: Harness, slow: SlowModel
) -> None:
    key = await server.issue_key("slowapp")
    sid = new_id()
    assert (await server.chat(sid, "hello", app="slowapp", key=key)).status_code == 200
    await asyncio.wait_for(slow.started.wait(), 5)
    r = await set_model(server, sid, "offline", key=key, app="slowapp")
    assert r.json() == {"success": True, "rig": "offline", "baml": "offline", "created": False}
    slow.release.set()
    await server.wait_idle(sid, app="slowapp", key=key)
    stored = await server.services.manager.store.load(sid)
    assert stored is not None and stored.model == "offline"
