"""Client secrets (SPEC 4.5): the public client's ingestSecrets / clearSecrets / deleteSecret,
with the client id as the credential; values encrypted at rest, bound to the client, expiring."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from aomi.crypto import Sealer
from aomi.db.tables import client_secrets
from aomi.secrets import SEALER_PURPOSE
from aomi.settings import Settings
from tests.support.harness import Harness, running

SECRET = "sk-live-VERY-secret-value-123456"


async def _ingest(h: Harness, body: Any) -> Any:
    return await h.client.post("/api/secrets", json=body)


async def _stored(h: Harness) -> list[Any]:
    async with h.services.engine.connect() as conn:
        return list(await conn.execute(select(client_secrets)))


async def test_ingest_returns_handles_and_stores_only_ciphertext(server: Harness) -> None:
    r = await _ingest(server, {"client_id": "tab-1", "secrets": {"API_KEY": SECRET, "other_token": "x"}})
    assert r.status_code == 200, r.text
    assert r.json() == {"handles": {"API_KEY": "$SECRET:API_KEY", "other_token": "$SECRET:other_token"}}
    assert SECRET not in r.text
    rows = await _stored(server)
    assert {(row.client_id, row.name) for row in rows} == {("tab-1", "API_KEY"), ("tab-1", "other_token")}
    # Stored sealed: each row opens to its value under the server's key, and shows no part of it.
    # (A fixed word such as "VERY" turns up in 1 of about 40,000 random Fernet tokens: checking for
    # one made this test fail by chance once.)
    sealer = Sealer(server.settings.resolved_secret_key, SEALER_PURPOSE)
    opened = {row.name: sealer.open(row.ciphertext) for row in rows}
    assert opened == {"API_KEY": SECRET, "other_token": "x"}
    assert all(SECRET not in row.ciphertext and SECRET[:12] not in row.ciphertext for row in rows)
    # Tools get the values server-side, per client, only the names asked for.
    secrets = server.services.secrets
    assert await secrets.values("tab-1", ["API_KEY", "MISSING"]) == {"API_KEY": SECRET}
    assert await secrets.values("tab-2", ["API_KEY"]) == {}
    # Ingesting again replaces the value.
    await _ingest(server, {"client_id": "tab-1", "secrets": {"API_KEY": "new"}})
    assert await secrets.values("tab-1", ["API_KEY"]) == {"API_KEY": "new"}


async def test_delete_one_and_clear_all(server: Harness) -> None:
    await _ingest(server, {"client_id": "tab-1", "secrets": {"A": "1", "B": "2"}})
    await _ingest(server, {"client_id": "tab-2", "secrets": {"A": "3"}})
    r = await server.client.delete("/api/secrets/A", params={"client_id": "tab-1"})
    assert (r.status_code, r.json()) == (200, {"deleted": True})
    r = await server.client.delete("/api/secrets/A", params={"client_id": "tab-1"})
    assert (r.status_code, r.json()) == (200, {"deleted": False})
    r = await server.client.delete("/api/secrets", params={"client_id": "tab-1"})
    assert (r.status_code, r.json()) == (200, {"cleared": True})
    assert [(row.client_id, row.name) for row in await _stored(server)] == [("tab-2", "A")]


async def test_secrets_expire(settings: Settings) -> None:
    # Long enough to read the value back on a loaded machine, short enough to wait out.
    async with running(settings.model_copy(update={"client_secret_seconds": 2.0})) as h:
        await _ingest(h, {"client_id": "tab-1", "secrets": {"A": "1"}})
        assert await h.services.secrets.values("tab-1", ["A"]) == {"A": "1"}
        await asyncio.sleep(2.1)
        assert await h.services.secrets.values("tab-1", ["A"]) == {}
        assert await h.services.secrets.purge_expired() == 1
        assert await _stored(h) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"secrets": {"A": "1"}}, "client_id is required"),
        ({"client_id": " ", "secrets": {"A": "1"}}, "client_id is required"),
        ({"client_id": "x" * 201, "secrets": {"A": "1"}}, "longer than 200"),
        ({"client_id": "tab", "secrets": {}}, "non-empty object"),
        ({"client_id": "tab", "secrets": ["A"]}, "non-empty object"),
        ({"client_id": "tab", "secrets": {"1A": "1"}}, "secret name '1A' is not valid"),
        ({"client_id": "tab", "secrets": {"A": 5}}, "secret A: the value must be a non-empty string"),
        ({"client_id": "tab", "secrets": {"A": "x" * 8193}}, "longer than 8192"),
        ({"client_id": "tab", "secrets": {f"S{i}": "v" for i in range(65)}}, "at most 64"),
    ],
)
async def test_bad_input_is_a_400_that_never_echoes_a_value(server: Harness, body: Any, message: str) -> None:
    r = await _ingest(server, body)
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]["message"]
    assert "xxxxxxxx" not in r.text and await _stored(server) == []


async def test_deletes_need_a_client_id(server: Harness) -> None:
    assert (await server.client.delete("/api/secrets")).status_code == 400
    assert (await server.client.delete("/api/secrets/A")).status_code == 400
    assert (await server.client.delete("/api/secrets/1bad", params={"client_id": "t"})).status_code == 400


async def test_only_declared_slots_resolve_and_operators_fill_in(server: Harness) -> None:
    from aomi.apps.app import App, SecretSlot
    from aomi.errors import MissingSecret
    from aomi.secrets import AppSecrets

    def app(name: str, *slots: SecretSlot) -> App:
        return App(name, "", False, "p", "offline", ("offline",), (), slots)

    a = app(
        "coin-a",
        SecretSlot("API_KEY"),
        SecretSlot("REGION", source="operator"),
        SecretSlot("TOKEN", source="client", required=False),
    )
    b = app("coin-b", SecretSlot("OTHER"))
    await _ingest(
        server, {"client_id": "tab-1", "secrets": {"API_KEY": SECRET, "REGION": "client-eu", "OTHER": "o"}}
    )
    env = {
        "AOMI_APP_COIN_A_REGION": "eu-west",
        "AOMI_APP_COIN_A_TOKEN": "ignored",
        "AOMI_APP_COIN_B_API_KEY": "b",
    }
    secrets = AppSecrets(server.services.secrets, env)
    resolved = await secrets.resolve(a, "tab-1")
    # The client's value for "either", the operator's for "operator" (never the client's), and a
    # client-only slot without a client value stays unset even when the environment has one.
    assert resolved == {"API_KEY": SECRET, "REGION": "eu-west"}
    assert await secrets.resolve(a, None) == {"REGION": "eu-west"}
    # App B shares the client and an API_KEY variable name, but declares no API_KEY slot.
    assert await secrets.resolve(b, "tab-1") == {"OTHER": "o"}
    assert AppSecrets.require(a, resolved, "API_KEY") == SECRET
    with pytest.raises(
        MissingSecret, match="the secret TOKEN is not set: the client sends it with POST /api/secrets"
    ):
        AppSecrets.require(a, resolved, "TOKEN")
    with pytest.raises(MissingSecret, match="declares no secret 'API_KEY'"):
        AppSecrets.require(b, {"API_KEY": "x"}, "API_KEY")
    with pytest.raises(MissingSecret, match="or the operator sets AOMI_APP_COIN_A_API_KEY"):
        AppSecrets.require(a, {}, "API_KEY")


async def test_the_app_detail_lists_its_secret_slots(settings: Settings) -> None:
    app_dir = settings.apps_dir / "vault"
    app_dir.mkdir(parents=True)
    (app_dir / "app.toml").write_text(
        'name = "vault"\npublic = true\npreamble = "p"\n[[secrets]]\nname = "KEY"\ndescription = "k"\n'
    )
    async with running(settings) as h:
        r = await h.client.get("/api/control/apps", params={"detail": "true"})
    vault = next(a for a in r.json() if a["name"] == "vault")
    assert vault["secrets"] == [{"name": "KEY", "description": "k", "required": True}]
