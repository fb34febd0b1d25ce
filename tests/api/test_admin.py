"""The admin API (SPEC 4.6) on SQLite and PostgreSQL: its gate, keys (issue, expiry, revoke,
rotate), Apps, sessions (list, search, open, export, delete) and usage over time."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from pydantic import SecretStr

from aomi.agent.models import ModelRegistry
from aomi.settings import Settings
from aomi.timeutil import iso_ms, now_ms, parse_iso_ms
from tests.support.harness import Harness, new_id, running

TOKEN = "admin-token-for-tests-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
WALLET = "0x" + "ab" * 20
UNKNOWN_SESSION = "7d0c6f3e-2b1a-4c59-9e8d-3f6a5b4c2d10"  # fixed: test ids must not vary between runs


@pytest_asyncio.fixture
async def admin(api_settings: Settings, models: ModelRegistry) -> AsyncIterator[Harness]:
    settings = api_settings.model_copy(update={"admin_token": SecretStr(TOKEN)})
    async with running(settings, models) as harness:
        yield harness


async def _get(h: Harness, path: str, **params: Any) -> Any:
    r = await h.client.get(f"/admin/api{path}", params=params, headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()


async def _issue(h: Harness, **body: Any) -> dict[str, Any]:
    r = await h.client.post("/admin/api/keys", json={"apps": ["mycoindex"], **body}, headers=ADMIN)
    assert r.status_code == 201, r.text
    issued: dict[str, Any] = r.json()
    return issued


async def _key_works(h: Harness, key: str) -> int:
    r = await h.state(new_id(), app="mycoindex", key=key)
    return r.status_code


ROUTES = [
    ("GET", "/admin/api/apps"),
    ("GET", "/admin/api/apps/mycoindex"),
    ("GET", "/admin/api/keys"),
    ("POST", "/admin/api/keys"),
    ("GET", "/admin/api/keys/abc"),
    ("PATCH", "/admin/api/keys/abc"),
    ("POST", "/admin/api/keys/abc/revoke"),
    ("POST", "/admin/api/keys/abc/rotate"),
    ("GET", "/admin/api/sessions"),
    ("GET", f"/admin/api/sessions/{new_id()}"),
    ("GET", f"/admin/api/sessions/{new_id()}/export"),
    ("DELETE", f"/admin/api/sessions/{new_id()}"),
    ("GET", "/admin/api/usage"),
]


async def test_without_an_admin_token_the_admin_api_and_page_are_absent(server: Harness) -> None:
    issued = await server.services.keys.create(["mycoindex"])
    for headers in ({}, ADMIN, {"Authorization": f"Bearer {issued.key}"}, {"AOMI-APP-KEY": issued.key}):
        for method, path in [*ROUTES, ("GET", "/admin")]:
            r = await server.client.request(method, path, headers=headers, json={})
            assert r.status_code == 404, (method, path, r.text)
            assert r.json()["error"]["code"] == "not_found"


async def test_a_missing_or_wrong_token_or_an_app_key_is_401(admin: Harness) -> None:
    issued = await admin.services.keys.create(["mycoindex"])
    wrong = [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": TOKEN},  # no scheme
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {issued.key}"},
        {"AOMI-APP-KEY": issued.key},
        {"X-API-Key": TOKEN},
    ]
    for headers in wrong:
        for method, path in ROUTES:
            # Checked before the body is read: even invalid JSON gets 401.
            r = await admin.client.request(method, path, headers=headers, content=b"{not json")
            assert r.status_code == 401, (headers, method, path, r.text)
            assert r.json()["error"]["code"] == "admin_token_invalid"
            assert TOKEN not in r.text
    assert (await admin.client.get("/admin/api/keys", headers=ADMIN)).status_code == 200
    page = await admin.client.get("/admin")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


async def test_apps_list_and_show(admin: Harness) -> None:
    apps = {a["name"]: a for a in (await _get(admin, "/apps"))["apps"]}
    assert {"default", "mycoindex", "openapp"} <= set(apps)
    assert apps["mycoindex"]["keyed"] is True and apps["openapp"]["keyed"] is False
    assert apps["mycoindex"]["tools"] == ["get_token_price"]
    assert apps["mycoindex"]["default_model"] == "offline"
    assert await _get(admin, "/apps/mycoindex") == apps["mycoindex"]
    r = await admin.client.get("/admin/api/apps/nope", headers=ADMIN)
    assert r.status_code == 404 and r.json()["error"]["code"] == "app_not_found"


async def test_issue_use_expire_and_revoke_a_key(admin: Harness) -> None:
    issued = await _issue(admin, label="web", expires_in="30d")
    key = issued.pop("key")
    assert key.startswith(issued["prefix"]) and issued["status"] == "active"
    assert issued["apps"] == ["mycoindex"] and issued["label"] == "web"
    assert abs(parse_iso_ms(issued["expires_at"]) - now_ms() - 30 * 86_400_000) < 60_000
    listed = await _get(admin, "/keys")
    assert [k["id"] for k in listed["keys"]] == [issued["id"]]
    assert key not in json.dumps(listed)  # shown once: never again
    assert await _get(admin, f"/keys/{issued['id'][:10]}") == issued
    assert await _key_works(admin, key) == 200

    past = await admin.client.patch(
        f"/admin/api/keys/{issued['id']}", json={"expires_at": iso_ms(now_ms() - 1000)}, headers=ADMIN
    )
    assert past.status_code == 200 and past.json()["status"] == "expired"
    assert await _key_works(admin, key) == 401  # this process's cache forgot it at once
    cleared = await admin.client.patch(
        f"/admin/api/keys/{issued['id']}", json={"expires_at": None}, headers=ADMIN
    )
    assert cleared.json()["expires_at"] is None and cleared.json()["status"] == "active"
    assert await _key_works(admin, key) == 200

    revoked = await admin.client.post(f"/admin/api/keys/{issued['id']}/revoke", headers=ADMIN)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert await _key_works(admin, key) == 401
    again = await admin.client.post(f"/admin/api/keys/{issued['id']}/revoke", headers=ADMIN)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]


async def test_rotate_keeps_the_old_key_until_the_grace_deadline(admin: Harness) -> None:
    first = await _issue(admin, label="prod", expires_in="30d")
    r = await admin.client.post(f"/admin/api/keys/{first['id']}/rotate", json={"grace": "1h"}, headers=ADMIN)
    assert r.status_code == 201, r.text
    rotated = r.json()
    old = rotated.pop("old")
    assert rotated["id"] != first["id"] and rotated["key"] != first["key"]
    assert rotated["apps"] == first["apps"] and rotated["label"] == "prod"
    assert rotated["expires_at"] == first["expires_at"]  # same terms
    assert rotated["prefix"].startswith("sk-myc-")
    assert abs(parse_iso_ms(old["expires_at"]) - now_ms() - 3_600_000) < 60_000
    assert await _key_works(admin, first["key"]) == 200  # within the grace period
    assert await _key_works(admin, rotated["key"]) == 200

    # Grace 0: the old key stops at once; a revoked key cannot be rotated.
    r = await admin.client.post(
        f"/admin/api/keys/{rotated['id']}/rotate", json={"grace": "0s"}, headers=ADMIN
    )
    assert r.status_code == 201, r.text
    assert await _key_works(admin, rotated["key"]) == 401
    assert await _key_works(admin, r.json()["key"]) == 200
    await admin.client.post(f"/admin/api/keys/{first['id']}/revoke", headers=ADMIN)
    r = await admin.client.post(f"/admin/api/keys/{first['id']}/rotate", headers=ADMIN)
    assert r.status_code == 400 and "revoked" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/keys", {"apps": []}, 400, "invalid_input"),
        ("POST", "/keys", {"apps": "mycoindex"}, 400, "invalid_input"),
        ("POST", "/keys", {"apps": ["nope"]}, 404, "app_not_found"),
        ("POST", "/keys", {"apps": ["mycoindex"], "expires_in": "soon"}, 400, "invalid_input"),
        ("POST", "/keys", {"apps": ["mycoindex"], "expires_at": "yesterday"}, 400, "invalid_input"),
        ("POST", "/keys", {"apps": ["mycoindex"], "expires_in": "1d", "expires_at": "2030-01-01"}, 400, None),
        ("POST", "/keys", {"apps": ["mycoindex"], "color": "red"}, 400, "invalid_input"),
        ("POST", "/keys", [1, 2], 400, "invalid_input"),
        ("GET", "/keys/zzzz", None, 404, "key_not_found"),
        ("POST", "/keys/zzzz/rotate", {}, 404, "key_not_found"),
        ("GET", "/sessions/not-a-uuid", None, 400, "invalid_session_id"),
        ("GET", f"/sessions/{UNKNOWN_SESSION}", None, 404, "session_not_found"),
        ("DELETE", f"/sessions/{UNKNOWN_SESSION}", None, 404, "session_not_found"),
        ("GET", "/sessions?before=x", None, 400, None),
        ("PATCH", "/keys/zzzz", {}, 400, "invalid_input"),
        ("PATCH", "/keys/zzzz", {"expires_at": None, "expires_in": "1d"}, 400, "invalid_input"),
        ("POST", "/keys/zzzz/rotate", {"grace": "-1h"}, 400, "invalid_input"),
        ("GET", "/usage?since=2026-13-01", None, 400, None),
        ("GET", "/usage?until=yesterday", None, 400, None),
        ("GET", "/usage?bucket=minute", None, 400, None),
        ("GET", "/usage?key=zzzz", None, 404, "key_not_found"),
    ],
)
async def test_bad_input_is_a_clear_4xx(
    admin: Harness, method: str, path: str, body: Any, status: int, code: str | None
) -> None:
    r = await admin.client.request(method, f"/admin/api{path}", json=body, headers=ADMIN)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["message"]
    if code is not None:
        assert error["code"] == code


async def test_sessions_list_search_open_export_and_delete(admin: Harness) -> None:
    key = (await admin.services.keys.create(["mycoindex"])).key
    sids = [new_id() for _ in range(3)]
    for n, sid in enumerate(sids):
        user_state = json.dumps({"address": WALLET, "chain_id": 1}) if n == 0 else None
        params = {"user_state": user_state} if user_state else {}
        assert (
            await admin.chat(sid, f"hello number {n}", app="mycoindex", key=key, **params)
        ).status_code == 200
        await admin.wait_idle(sid, app="mycoindex", key=key)
    await admin.client.patch(
        f"/api/sessions/{sids[1]}", json={"title": "Budget review"}, headers={"AOMI-APP-KEY": key}
    )

    listed = (await _get(admin, "/sessions"))["sessions"]
    assert {s["id"] for s in listed} == set(sids)
    assert all(s["app"] == "mycoindex" and s["status"] == "idle" for s in listed)
    by_id = {s["id"]: s for s in listed}
    assert by_id[sids[0]]["wallet"] is not None and by_id[sids[0]]["wallet"].lower() == WALLET
    assert by_id[sids[0]]["chain_id"] == 1

    assert [s["id"] for s in (await _get(admin, "/sessions", q="budget"))["sessions"]] == [sids[1]]
    assert [s["id"] for s in (await _get(admin, "/sessions", q=WALLET[:12].upper()))["sessions"]] == [sids[0]]
    assert [s["id"] for s in (await _get(admin, "/sessions", q=sids[2][:8]))["sessions"]] == [sids[2]]
    assert (await _get(admin, "/sessions", app="openapp"))["sessions"] == []
    assert (await _get(admin, "/sessions", q="100%_"))["sessions"] == []  # wildcards are literal

    first = await _get(admin, "/sessions", limit=2)
    assert len(first["sessions"]) == 2 and first["next"]
    rest = await _get(admin, "/sessions", limit=2, before=first["next"])
    assert rest["next"] is None
    assert [s["id"] for s in first["sessions"] + rest["sessions"]] == [s["id"] for s in listed]

    opened = await _get(admin, f"/sessions/{sids[0]}")
    assert opened["session"] == by_id[sids[0]] | {"updated_at": opened["session"]["updated_at"]}
    assert [m["sender"] for m in opened["messages"]][:2] == ["user", "agent"]
    assert opened["messages"][0]["content"] == "hello number 0"

    r = await admin.client.get(f"/admin/api/sessions/{sids[0]}/export", headers=ADMIN)
    assert r.status_code == 200
    assert r.headers["content-disposition"] == f'attachment; filename="session-{sids[0]}.json"'
    export = r.json()
    assert export["session"]["id"] == sids[0] and export["messages"] == opened["messages"]
    assert export["events"] and {"seq", "kind", "payload", "created_at"} <= set(export["events"][0])

    r = await admin.client.delete(f"/admin/api/sessions/{sids[0]}", headers=ADMIN)
    assert r.status_code == 204
    assert (await admin.client.get(f"/admin/api/sessions/{sids[0]}", headers=ADMIN)).status_code == 404
    assert (await admin.state(sids[0], app="mycoindex", key=key)).json()["messages"] == []


async def test_usage_totals_and_series(admin: Harness) -> None:
    issued = await admin.services.keys.create(["mycoindex"])
    for _ in range(2):
        sid = new_id()
        assert (
            await admin.chat(sid, "what is the price of ETH?", app="mycoindex", key=issued.key)
        ).status_code == 200
        await admin.wait_idle(sid, app="mycoindex", key=issued.key)
    sid = new_id()
    assert (await admin.chat(sid, "hi", app="openapp")).status_code == 200
    await admin.wait_idle(sid, app="openapp")

    usage = await _get(admin, "/usage")
    assert usage["bucket"] == "day"
    totals = {(t["app"], t["key_id"]): t for t in usage["totals"]}
    assert totals[("mycoindex", issued.record.id)]["turns"] == 2
    assert totals[("mycoindex", issued.record.id)]["tool_calls"] >= 2
    assert totals[("openapp", None)]["turns"] == 1
    assert sum(b["turns"] for b in usage["series"]) == 3
    assert len(usage["series"]) == 1  # all today, in one bucket
    assert parse_iso_ms(usage["series"][0]["start"]) <= now_ms()

    mine = await _get(admin, "/usage", key=issued.record.prefix, bucket="hour")
    assert mine["bucket"] == "hour"
    assert [(t["app"], t["turns"]) for t in mine["totals"]] == [("mycoindex", 2)]
    assert sum(b["turns"] for b in mine["series"]) == 2
    assert (await _get(admin, "/usage", app="openapp"))["totals"][0]["turns"] == 1
    earlier = await _get(admin, "/usage", until=iso_ms(now_ms() - 3_600_000))
    assert earlier["totals"] == [] and earlier["series"] == []
    # A reversed range holds nothing; a long range of hours lists only the hours with turns.
    reversed_range = await _get(admin, "/usage", since="2030-01-01T00:00:00Z", until="2020-01-01")
    assert reversed_range["totals"] == [] and reversed_range["series"] == []
    years = await _get(admin, "/usage", since="2020-01-01", bucket="hour")
    assert sum(b["turns"] for b in years["series"]) == 3 and len(years["series"]) <= 2
