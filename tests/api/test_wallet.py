"""Wallet binding through chat and state (SPEC 2.3, 4.1 UserState), on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from tests.support.harness import Harness, new_id, running

VITALIK = "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045"


async def test_public_key_binds_the_wallet_checksummed(server: Harness) -> None:
    sid = new_id()
    r = await server.chat(sid, "hi", public_key=VITALIK.lower())
    assert r.status_code == 200
    assert r.json()["user_state"] == {
        "address": VITALIK.lower(),  # echoed as sent
        "chain_id": None,
        "is_connected": True,
        "ens_name": None,
    }
    await server.wait_idle(sid)
    stored = await server.services.manager.store.load(sid)
    assert stored is not None and stored.wallet_address == VITALIK


async def test_user_state_shapes_through_chat_and_state(server: Harness) -> None:
    sid = new_id()
    nested = {"connection": {"is_connected": True}, "evm": {"address": VITALIK, "chain_id": "0x2105"}}
    r = await server.chat(sid, "hi", user_state=json.dumps(nested), client_id="web-1")
    assert r.json()["user_state"] == {
        "address": VITALIK,
        "chain_id": "0x2105",
        "is_connected": True,
        "ens_name": None,
    }
    await server.wait_idle(sid)
    camel = {"address": VITALIK, "chainId": 10, "isConnected": True, "ensName": "vitalik.eth"}
    body = (await server.state(sid, user_state=json.dumps(camel))).json()
    assert body["user_state"] == {
        "address": VITALIK,
        "chain_id": 10,
        "is_connected": True,
        "ens_name": "vitalik.eth",
    }
    stored = await server.services.manager.store.load(sid)
    assert stored is not None
    assert (stored.chain_id, stored.client_id, stored.user_state) == (10, "web-1", body["user_state"])
    assert stored.wallet_address == VITALIK


async def test_bad_wallet_input_is_400_and_stores_nothing(server: Harness) -> None:
    sid = new_id()
    cases = [
        {"public_key": "0x1234"},
        {"user_state": "{not json"},
        {"user_state": json.dumps({"address": "0xD8dA6BF26964aF9D7eEd9e03E53415D37aA96045"})},
        {"user_state": json.dumps({"address": VITALIK, "chainId": "base"})},
    ]
    for params in cases:
        r = await server.chat(sid, "hi", **params)
        assert r.status_code == 400, params
        assert r.json()["error"]["code"] in {"invalid_address", "invalid_user_state"}
    assert await server.services.manager.store.load(sid) is None
    assert (await server.state(sid, user_state="[1]")).status_code == 400


async def test_wallet_reaches_the_agent_context(server: Harness) -> None:
    sid = new_id()
    await server.chat(sid, "hi", user_state=json.dumps({"address": VITALIK, "chain_id": 8453}))
    await server.wait_idle(sid)
    s = await server.services.manager.get(sid)
    assert s is not None
    history = [json.loads(row) for row in await server.services.manager.store.model_history(sid)]
    instructions = history[0]["instructions"]
    assert f"Wallet: {VITALIK} on Base (chain id 8453)." in instructions


async def test_wallet_survives_a_restart(server: Harness) -> None:
    sid = new_id()
    await server.chat(sid, "hi", public_key=VITALIK)
    await server.wait_idle(sid)
    async with running(server.settings, server.services.runner.models) as again:
        assert (await again.state(sid)).json()["user_state"]["address"] == VITALIK


async def test_user_state_is_echoed_as_sent_and_found_by_either_case(server: Harness) -> None:
    """The public client compares the echo with what it sent: letter case and chain format stay."""
    sid = new_id()
    sent = {"address": VITALIK.lower(), "chainId": "0x2105", "isConnected": True, "ensName": None}
    echo = {"address": VITALIK.lower(), "chain_id": "0x2105", "is_connected": True, "ens_name": None}
    r = await server.chat(sid, "hi", user_state=json.dumps(sent))
    assert r.json()["user_state"] == echo
    await server.wait_idle(sid)
    # The client sends back what it received, server-owned fields included: those are not taken.
    returned = {**echo, "pending_txs": {"1": {"to": VITALIK}}, "pending_eip712s": {"2": {}}}
    body = (await server.state(sid, user_state=json.dumps(returned))).json()
    assert body["user_state"] == echo
    stored = await server.services.manager.store.load(sid)
    assert stored is not None
    assert (stored.wallet_address, stored.chain_id, stored.user_state) == (VITALIK, 8453, echo)
    for public_key in (VITALIK, VITALIK.lower(), "0x" + VITALIK[2:].upper()):
        listed = await server.client.get("/api/sessions", params={"public_key": public_key})
        assert [t["session_id"] for t in listed.json()] == [sid], public_key
