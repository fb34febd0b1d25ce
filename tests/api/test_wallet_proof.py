"""Wallet proof (SPEC 4.3): Sign-In with Ethereum for listing a wallet's threads, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from eth_account import Account
from eth_account.signers.local import LocalAccount

from aomi.agent.models import ModelRegistry
from aomi.settings import Settings
from aomi.timeutil import iso_ms, now_ms
from tests.support.harness import Harness, new_id, running
from tests.support.siwe import DOMAIN, sign, siwe_text


async def nonce(h: Harness) -> str:
    r = await h.client.post("/api/wallet/nonce")
    assert r.status_code == 200
    value: str = r.json()["nonce"]
    assert value.isalnum() and len(value) >= 8
    return value


async def sign_in(h: Harness, account: LocalAccount, **kw: Any) -> httpx.Response:
    text = siwe_text(account, await nonce(h), **kw)
    return await h.client.post("/api/wallet/verify", json={"message": text, "signature": sign(account, text)})


async def thread_of(h: Harness, account: LocalAccount) -> str:
    sid = new_id()
    r = await h.client.post(
        "/api/sessions", json={"public_key": account.address}, headers={"X-Session-Id": sid}
    )
    assert r.status_code == 200
    return sid


async def listing(h: Harness, account: LocalAccount, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await h.client.get("/api/sessions", params={"public_key": account.address}, headers=headers)


def error_code(r: httpx.Response) -> str:
    code: str = r.json()["error"]["code"]
    return code


def _proof_required(api_settings: Settings, nonce_seconds: float) -> Settings:
    return api_settings.model_copy(update={"wallet_proof": "required", "wallet_nonce_seconds": nonce_seconds})


@pytest_asyncio.fixture
async def proven(api_settings: Settings, models: ModelRegistry) -> AsyncIterator[Harness]:
    # Nonces live long enough for a slow machine; the expiry test makes its own short-lived ones.
    async with running(_proof_required(api_settings, 60.0), models) as h:
        yield h


async def test_a_signature_yields_a_token_that_lists_that_wallets_threads(proven: Harness) -> None:
    alice, bob = Account.create(), Account.create()
    mine, _theirs = await thread_of(proven, alice), await thread_of(proven, bob)
    r = await sign_in(proven, alice)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["address"] == alice.address and body["expires_at"].endswith("Z")
    listed = await listing(proven, alice, body["token"])
    assert listed.status_code == 200
    assert [t["session_id"] for t in listed.json()] == [mine]
    # The address in any letter case names the same wallet.
    r = await proven.client.get(
        "/api/sessions",
        params={"public_key": alice.address.lower()},
        headers={"Authorization": f"Bearer {body['token']}"},
    )
    assert [t["session_id"] for t in r.json()] == [mine]


async def test_without_a_token_the_list_is_refused(proven: Harness) -> None:
    alice = Account.create()
    await thread_of(proven, alice)
    r = await listing(proven, alice)
    assert r.status_code == 401 and error_code(r) == "wallet_token_required"
    r = await proven.client.get(
        "/api/sessions", params={"public_key": alice.address}, headers={"Authorization": "Basic abc"}
    )
    assert r.status_code == 401 and error_code(r) == "wallet_token_required"


async def test_a_token_never_lists_another_wallets_threads(proven: Harness) -> None:
    alice, bob = Account.create(), Account.create()
    await thread_of(proven, bob)
    token = (await sign_in(proven, alice)).json()["token"]
    r = await listing(proven, bob, token)
    assert r.status_code == 401 and error_code(r) == "invalid_wallet_token"


async def test_expired_forged_and_foreign_domain_tokens_are_refused(proven: Harness) -> None:
    alice = Account.create()
    proofs = proven.services.wallet
    expired = proofs.sign_token(alice.address, DOMAIN, "n" * 16, int(time.time()) - 1).token
    other_domain = proofs.sign_token(alice.address, "evil.example", "n" * 16, int(time.time()) + 60).token
    good = proofs.sign_token(alice.address, DOMAIN, "n" * 16, int(time.time()) + 60).token
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    for token in (expired, other_domain, forged, "not-a-token"):
        r = await listing(proven, alice, token)
        assert r.status_code == 401 and error_code(r) == "invalid_wallet_token", token
    assert (await listing(proven, alice, good)).status_code == 200


async def test_a_nonce_is_used_once(proven: Harness) -> None:
    alice = Account.create()
    text = siwe_text(alice, await nonce(proven))
    body = {"message": text, "signature": sign(alice, text)}
    assert (await proven.client.post("/api/wallet/verify", json=body)).status_code == 200
    again = await proven.client.post("/api/wallet/verify", json=body)
    assert again.status_code == 401 and error_code(again) == "invalid_wallet_proof"


async def test_unknown_and_expired_nonces_are_refused(api_settings: Settings, models: ModelRegistry) -> None:
    alice = Account.create()
    made_up = siwe_text(alice, "abcdef0123456789")
    async with running(_proof_required(api_settings, 0.5), models) as h:
        r = await h.client.post(
            "/api/wallet/verify", json={"message": made_up, "signature": sign(alice, made_up)}
        )
        assert r.status_code == 401 and error_code(r) == "invalid_wallet_proof"
        text = siwe_text(alice, await nonce(h))
        await asyncio.sleep(0.6)  # AOMI_WALLET_NONCE_SECONDS is 0.5 here
        r = await h.client.post("/api/wallet/verify", json={"message": text, "signature": sign(alice, text)})
    assert r.status_code == 401 and "nonce" in r.json()["error"]["message"]


async def test_a_signature_by_another_key_is_refused_and_keeps_the_nonce(proven: Harness) -> None:
    alice, mallory = Account.create(), Account.create()
    text = siwe_text(alice, await nonce(proven))
    r = await proven.client.post(
        "/api/wallet/verify", json={"message": text, "signature": sign(mallory, text)}
    )
    assert r.status_code == 401 and error_code(r) == "invalid_wallet_proof"
    r = await proven.client.post("/api/wallet/verify", json={"message": text, "signature": sign(alice, text)})
    assert r.status_code == 200  # a forged attempt does not burn the user's nonce


async def test_a_message_for_another_domain_is_refused(proven: Harness) -> None:
    alice = Account.create()
    r = await sign_in(proven, alice, domain="evil.example")
    assert r.status_code == 401 and error_code(r) == "invalid_wallet_proof"
    assert "evil.example" in r.json()["error"]["message"]


async def test_an_expired_message_is_refused(proven: Harness) -> None:
    alice = Account.create()
    r = await sign_in(proven, alice, expiration_time=iso_ms(now_ms() - 1000))
    assert r.status_code == 401 and error_code(r) == "invalid_wallet_proof"


async def test_malformed_proofs_are_400(proven: Harness) -> None:
    alice = Account.create()
    text = siwe_text(alice, await nonce(proven))
    cases: list[Any] = [
        {"message": "hello", "signature": "0x00"},
        {"message": text, "signature": "not hex"},
        {"message": text},
        {"signature": "0x00"},
        [1, 2],
    ]
    for body in cases:
        r = await proven.client.post("/api/wallet/verify", json=body)
        assert r.status_code == 400, (body, r.text)
        assert error_code(r) == "invalid_input"


async def test_the_configured_domain_wins_over_the_host(
    api_settings: Settings, models: ModelRegistry
) -> None:
    settings = api_settings.model_copy(
        update={"wallet_proof": "required", "wallet_domain": "app.example.com"}
    )
    async with running(settings, models) as h:
        alice = Account.create()
        assert (await sign_in(h, alice)).status_code == 401
        r = await sign_in(h, alice, domain="app.example.com")
        assert r.status_code == 200
        assert (await listing(h, alice, r.json()["token"])).status_code == 200


async def test_without_the_proof_setting_the_keyless_list_works(server: Harness) -> None:
    """AOMI_WALLET_PROOF=off (the default): the public client 0.1.31 cannot sign in and still lists."""
    alice = Account.create()
    sid = await thread_of(server, alice)
    r = await listing(server, alice)
    assert r.status_code == 200 and [t["session_id"] for t in r.json()] == [sid]
