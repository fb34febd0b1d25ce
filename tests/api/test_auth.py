"""The order of checks of SPEC 3, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from aomi.agent.models import ModelRegistry
from aomi.settings import Settings
from aomi.timeutil import now_ms
from tests.support.harness import Harness, headers, new_id, running


@pytest.mark.parametrize("sid", [None, "", "not-a-uuid", "1234", "g" * 36])
async def test_missing_or_malformed_session_id_is_400(server: Harness, sid: str | None) -> None:
    for method, path in [("POST", "/api/chat?message=hi"), ("GET", "/api/state"), ("POST", "/api/interrupt")]:
        r = await server.client.request(method, path, headers=headers(sid))
        assert r.status_code == 400, (method, path, r.text)
        assert r.json()["error"]["code"] in {"missing_session_id", "invalid_session_id"}


async def test_session_id_is_checked_before_the_key(server: Harness) -> None:
    r = await server.client.post("/api/chat?message=hi&app=mycoindex", headers={"AOMI-APP-KEY": "sk-bad-key"})
    assert r.status_code == 400


async def test_keyed_app_without_key_is_401(server: Harness) -> None:
    r = await server.chat(new_id(), "hi", app="mycoindex")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "app_key_required"


async def test_unknown_app_without_key_is_401_not_404(server: Harness) -> None:
    r = await server.chat(new_id(), "hi", app="no-such-app")
    assert r.status_code == 401


async def test_unknown_key_is_401_even_on_a_public_app(server: Harness) -> None:
    r = await server.chat(new_id(), "hi", key="sk-nope-" + "x" * 40)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_app_key"
    assert "sk-nope" not in r.text


async def test_revoked_key_is_401(server: Harness) -> None:
    issued = await server.services.keys.create(["mycoindex"])
    assert (await server.chat(new_id(), "hi", app="mycoindex", key=issued.key)).status_code == 200
    await server.services.keys.revoke(issued.record.id)
    server.services.verifier.invalidate(issued.record.id)
    r = await server.chat(new_id(), "hi", app="mycoindex", key=issued.key)
    assert r.status_code == 401


async def test_expired_key_is_401(server: Harness) -> None:
    key = await server.issue_key("mycoindex", expires_ms=now_ms() - 1)
    r = await server.chat(new_id(), "hi", app="mycoindex", key=key)
    assert r.status_code == 401


async def test_valid_key_for_unknown_app_is_404(server: Harness) -> None:
    key = await server.issue_key("mycoindex")
    r = await server.chat(new_id(), "hi", app="no-such-app", key=key)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "app_not_found"


async def test_key_not_scoped_to_the_app_is_403(server: Harness) -> None:
    key = await server.issue_key("other")
    r = await server.chat(new_id(), "hi", app="mycoindex", key=key)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "app_key_not_authorized"


async def test_key_with_several_apps_and_public_apps(server: Harness) -> None:
    key = await server.issue_key("mycoindex", "other")
    for app in ("mycoindex", "other", "openapp", "default"):
        assert (await server.chat(new_id(), "hi", app=app, key=key)).status_code == 200, app


async def test_namespace_and_x_api_key_aliases(server: Harness) -> None:
    key = await server.issue_key("mycoindex")
    r = await server.client.post(
        "/api/chat",
        params={"message": "hi", "namespace": "mycoindex"},
        headers={"X-Session-Id": new_id(), "X-API-Key": key},
    )
    assert r.status_code == 200


async def test_two_different_keys_is_400(server: Harness) -> None:
    key = await server.issue_key("mycoindex")
    r = await server.client.post(
        "/api/chat?message=hi&app=mycoindex",
        headers={"X-Session-Id": new_id(), "X-API-Key": key, "AOMI-APP-KEY": key + "x"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "conflicting_keys"


async def test_session_of_another_app_is_403(server: Harness) -> None:
    mine, theirs = await server.issue_key("mycoindex"), await server.issue_key("other")
    sid = new_id()
    assert (await server.chat(sid, "hi", app="other", key=theirs)).status_code == 200
    await server.wait_idle(sid, app="other", key=theirs)
    for r in (
        await server.chat(sid, "hi", app="mycoindex", key=mine),
        await server.state(sid, app="mycoindex", key=mine),
    ):
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "session_forbidden"


async def test_session_moves_between_apps_the_caller_may_use(server: Harness) -> None:
    key = await server.issue_key("mycoindex", "other")
    sid = new_id()
    assert (await server.chat(sid, "first", app="other", key=key)).status_code == 200
    await server.wait_idle(sid, app="other", key=key)
    assert (await server.chat(sid, "second", app="mycoindex", key=key)).status_code == 200
    body = await server.wait_idle(sid, app="mycoindex", key=key)
    assert [m["content"] for m in body["messages"] if m["sender"] == "user"] == ["first", "second"]
    s = await server.services.manager.store.load(sid)
    assert s is not None and s.app == "mycoindex"


async def test_key_use_is_recorded_by_the_server(api_settings: Settings, models: ModelRegistry) -> None:
    async with running(api_settings, models) as h:
        issued = await h.services.keys.create(["mycoindex"])
        assert issued.record.last_used_ms is None
        before = now_ms()
        assert (await h.chat(new_id(), "hi", app="mycoindex", key=issued.key)).status_code == 200
    async with running(api_settings, models) as h:  # the stop wrote what was pending
        (record,) = await h.services.keys.list()
        assert record.last_used_ms is not None and record.last_used_ms >= before
