"""The wallet hand-off in the same turn (SPEC 5 step 4), on a real chain: the turn parks on a
wallet request, the test's wallet signs and sends, and the answer posted to /api/system resumes
the same turn, which reports the receipt it looked up on chain."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from eth_account import Account
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from aomi.agent.models import ModelRegistry, default_model_registry
from aomi.settings import Settings
from tests.support.anvil import ChainFixture, DevAccount, chain_snapshot, web3_for
from tests.support.chain import on_chain
from tests.support.harness import Harness, headers, new_id, poll, running, write_app

TENTH_ETH = 10**17


@pytest.fixture
def on_anvil(chain_fixture: ChainFixture) -> Iterator[ChainFixture]:
    """The chain as the test found it afterwards: transfers made here are undone."""
    with chain_snapshot(chain_fixture.url):
        yield chain_fixture


@pytest.fixture
def chain_settings(settings: Settings, on_anvil: ChainFixture) -> Settings:
    write_app(
        settings.apps_dir, "signer", public=True, models=("signer",), tools=("request_typed_data_signature",)
    )
    write_app(settings.apps_dir, "keyedwallet", tools=("send_transaction_to_wallet",))
    return on_chain(settings, on_anvil, lease_seconds=1.5)


def _typed_data(chain_id: int) -> dict[str, Any]:
    return {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
            "Order": [{"name": "amount", "type": "uint256"}, {"name": "maker", "type": "address"}],
        },
        "primaryType": "Order",
        "domain": {"name": "Test", "chainId": chain_id},
        "message": {"amount": 5, "maker": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"},
    }


def signer_model() -> FunctionModel:
    """Asks for a typed-data signature, then repeats the tool's result."""

    async def stream(
        messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        last = messages[-1]
        returns = (
            [p for p in last.parts if isinstance(p, ToolReturnPart)] if isinstance(last, ModelRequest) else []
        )
        if returns:
            yield f"Result: {returns[0].model_response_str()}"
            return
        args = json.dumps({"typed_data": _typed_data(31337), "description": "Sign the test order"})
        yield {0: DeltaToolCall("request_typed_data_signature", args, tool_call_id=f"sig_{new_id()}")}

    async def plain(messages: list[ModelMessage], info: AgentInfo) -> Any:
        raise AssertionError("the server streams turns")

    return FunctionModel(plain, stream_function=stream, model_name="signer")


def _models() -> ModelRegistry:
    registry = default_model_registry()
    registry.register("signer", signer_model())
    return registry


@pytest_asyncio.fixture
async def server(chain_settings: Settings) -> AsyncIterator[Harness]:
    async with running(chain_settings, _models()) as harness:
        yield harness


def _user_state(account: DevAccount) -> str:
    return json.dumps({"address": account.address, "chainId": 31337, "isConnected": True})


async def _wait_for_request(h: Harness, sid: str, user_state: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Poll until the wallet request arrives: (its InlineCall, the snapshot it came in)."""
    seen: list[dict[str, Any]] = []

    def arrived(body: dict[str, Any]) -> bool:
        seen.extend(e["InlineCall"] for e in body["system_events"] if "InlineCall" in e)
        return bool(seen)

    body = await poll(lambda: h.state(sid, user_state=user_state), arrived)
    return seen[0], body


async def _system(h: Harness, sid: str, message: dict[str, Any] | str) -> httpx.Response:
    text = message if isinstance(message, str) else json.dumps(message)
    return await h.client.post("/api/system", params={"message": text}, headers=headers(sid))


def _sign_and_send(fx: ChainFixture, sender: DevAccount, payload: dict[str, Any]) -> str:
    """What the user's wallet does: sign the requested transaction and send it."""
    w3 = web3_for(fx.url)
    tx = {
        "to": payload["to"],
        "value": int(payload["value"]),
        "data": payload["data"],
        "chainId": payload["chain_id"],
        "nonce": w3.eth.get_transaction_count(sender.address),
        "gas": 100_000,
        "maxFeePerGas": 2 * w3.eth.gas_price + 10**9,
        "maxPriorityFeePerGas": 10**9,
    }
    signed = Account.sign_transaction(tx, sender.private_key)
    return "0x" + w3.eth.send_raw_transaction(signed.raw_transaction).hex().removeprefix("0x")


async def _park_a_transfer(
    h: Harness, fx: ChainFixture, sid: str, sender: DevAccount, to: str, **chat: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    state = _user_state(sender)
    r = await h.chat(sid, f"send 0.1 ETH to {to}", public_key=sender.address, user_state=state, **chat)
    assert r.status_code == 200, r.text
    return await _wait_for_request(h, sid, state)


async def test_send_parks_then_the_wallet_answer_resumes_the_same_turn(
    server: Harness, on_anvil: ChainFixture
) -> None:
    fx, h, sid = on_anvil, server, new_id()
    sender, receiver = fx.accounts[3], fx.accounts[8]
    w3 = web3_for(fx.url)
    before = w3.eth.get_balance(receiver.address)
    call, body = await _park_a_transfer(h, fx, sid, sender, receiver.address.lower())

    # The InlineCall has what the public client's normalizeTxPayload reads.
    assert call["type"] == "wallet_tx_request"
    payload = call["payload"]
    assert payload["tx_ids"] == [1]
    assert payload == {
        "tx_ids": [1],
        "to": receiver.address,
        "value": str(TENTH_ETH),
        "data": "0x",
        "chain_id": 31337,
        "from": sender.address,
        "description": f"Send 0.1 ETH to {receiver.address.lower()}",
    }
    # Mirrored, server-owned, under user_state.pending_txs (hydrateTxPayloadFromUserState).
    assert body["is_processing"] is True and body["status"] == "processing"
    pending = body["user_state"]["pending_txs"]
    assert list(pending) == ["1"]
    assert pending["1"]["to"] == receiver.address and pending["1"]["kind"] == "native_transfer"
    assert body["user_state"]["address"] == sender.address
    waiting = [m for m in body["messages"] if m["tool_result"]]
    assert waiting[-1]["tool_result"][1].startswith("Waiting for the wallet to sign and send the transaction")

    # A client re-sending pending_txs it received does not change the server's.
    echoed = json.dumps({"address": sender.address, "chainId": 31337, "pending_txs": {"9": {"to": "0x0"}}})
    assert list((await h.state(sid, user_state=echoed)).json()["user_state"]["pending_txs"]) == ["1"]

    tx_hash = _sign_and_send(fx, sender, payload)
    r = await _system(
        h,
        sid,
        {
            "type": "wallet:tx_complete",
            "payload": {"txHash": tx_hash, "status": "success", "pending_tx_ids": [1]},
        },
    )
    assert r.status_code == 200, r.text
    final = await h.wait_idle(sid)

    receipt = w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    assert w3.eth.get_balance(receiver.address) == before + TENTH_ETH
    last = final["messages"][-1]
    assert last["sender"] == "agent"
    assert f"Transaction {tx_hash} confirmed in block {receipt['blockNumber']}" in last["content"]
    assert final["status"] == "idle"
    assert "pending_txs" not in final["user_state"]
    tool = next(
        m
        for m in final["messages"]
        if m["tool_result"] and m["tool_result"][0].startswith("send_transaction")
    )
    assert tool["tool_result"][1].startswith(f"Transaction {tx_hash} confirmed") and not tool["is_streaming"]
    # The same turn: started once, finished once, the wallet request in between.
    kinds = [e.kind for e in await h.services.sessions.events_after(sid, 0)]
    assert kinds == ["turn_started", "InlineCall", "AsyncCallback", "title_changed", "turn_finished"]
    # One turn in the usage, with both parts' model requests.
    (total,) = await h.services.usage.totals()
    assert (total.turns, total.requests, total.errors) == (1, 2, 0)


async def test_the_resumed_part_is_charged_to_the_key_that_started_the_turn(
    server: Harness, on_anvil: ChainFixture
) -> None:
    h, sid = server, new_id()
    key = await h.issue_key("keyedwallet")
    key_id = (await h.services.keys.list())[0].id
    await _park_a_transfer(
        h, on_anvil, sid, on_anvil.accounts[3], on_anvil.accounts[8].address, app="keyedwallet", key=key
    )
    # The public client answers with the session id alone (the capability), no key.
    r = await _system(h, sid, {"type": "wallet:tx_complete", "payload": {"txHash": "", "status": "failed"}})
    assert r.status_code == 200, r.text
    await h.wait_idle(sid)
    (total,) = await h.services.usage.totals()
    assert (total.app, total.key_id, total.turns, total.requests) == ("keyedwallet", key_id, 1, 2)


async def test_the_public_clients_reject_is_reported(server: Harness, on_anvil: ChainFixture) -> None:
    h, sid = server, new_id()
    await _park_a_transfer(h, on_anvil, sid, on_anvil.accounts[3], on_anvil.accounts[8].address)
    # ClientSession.reject(): no ids, an empty hash.
    r = await _system(h, sid, {"type": "wallet:tx_complete", "payload": {"txHash": "", "status": "failed"}})
    assert r.status_code == 200, r.text
    final = await h.wait_idle(sid)
    assert final["messages"][-1]["content"].startswith(
        "The wallet request did not go through: The user rejected the transaction in their wallet."
    )
    assert final["status"] == "idle"


async def test_an_unanswered_request_expires_and_the_agent_says_so(
    settings: Settings, on_anvil: ChainFixture
) -> None:
    quick = on_chain(settings, on_anvil, lease_seconds=1.5, wallet_request_timeout_seconds=0.5)
    async with running(quick) as h:
        sid = new_id()
        await _park_a_transfer(h, on_anvil, sid, on_anvil.accounts[3], on_anvil.accounts[8].address)
        final = await h.wait_idle(sid, timeout=15)
    assert (
        "did not answer the transaction within 0.5 s; the request expired" in final["messages"][-1]["content"]
    )


async def test_a_new_message_withdraws_the_request_and_starts_a_new_turn(
    server: Harness, on_anvil: ChainFixture
) -> None:
    h, sid = server, new_id()
    sender = on_anvil.accounts[3]
    await _park_a_transfer(h, on_anvil, sid, sender, on_anvil.accounts[8].address)
    r = await h.chat(sid, "what is my balance", user_state=_user_state(sender))
    assert r.status_code == 200, r.text
    final = await h.wait_idle(sid)
    assert f"{sender.address} holds" in final["messages"][-1]["content"]
    tool = next(
        m
        for m in final["messages"]
        if m["tool_result"] and m["tool_result"][0].startswith("send_transaction")
    )
    assert "sent a new message instead of answering" in tool["tool_result"][1]
    assert "pending_txs" not in final["user_state"]
    # A late answer to the withdrawn request changes nothing.
    late = {"type": "wallet:tx_complete", "payload": {"txHash": "0x" + "ab" * 32, "status": "success"}}
    assert (await _system(h, sid, late)).status_code == 200
    assert (await h.state(sid)).json()["status"] == "idle"


async def test_a_parked_request_survives_a_restart(chain_settings: Settings, on_anvil: ChainFixture) -> None:
    sid, sender = new_id(), on_anvil.accounts[4]
    async with running(chain_settings, _models()) as h:
        call, _ = await _park_a_transfer(h, on_anvil, sid, sender, on_anvil.accounts[8].address)
    async with running(chain_settings, _models()) as h:  # a new server on the same database
        body = (await h.state(sid)).json()
        assert body["is_processing"] is True and list(body["user_state"]["pending_txs"]) == ["1"]
        tx_hash = _sign_and_send(on_anvil, sender, call["payload"])
        r = await _system(
            h, sid, {"type": "wallet:tx_complete", "payload": {"txHash": tx_hash, "status": "success"}}
        )
        assert r.status_code == 200, r.text
        final = await h.wait_idle(sid)
    assert f"Transaction {tx_hash} confirmed" in final["messages"][-1]["content"]


async def test_interrupting_a_parked_turn_withdraws_its_request(
    server: Harness, on_anvil: ChainFixture
) -> None:
    h, sid = server, new_id()
    await _park_a_transfer(h, on_anvil, sid, on_anvil.accounts[3], on_anvil.accounts[8].address)
    r = await h.client.post("/api/interrupt", headers=headers(sid))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["is_processing"], body["status"]) == (False, "interrupted")
    assert "pending_txs" not in body["user_state"]
    r = await h.chat(sid, "latest block")
    assert r.status_code == 200, r.text
    final = await h.wait_idle(sid)
    assert final["messages"][-1]["content"].startswith("Anvil (local) (chain 31337): latest block")


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"type": "wallet:tx_complete", "payload": {"txHash": "0x12", "status": "success"}}, "txHash"),
        ({"type": "wallet:tx_complete", "payload": {"status": "done"}}, "payload.status"),
        ({"type": "wallet:tx_complete", "payload": "x"}, "payload must be an object"),
        (
            {"type": "wallet:tx_complete", "payload": {"status": "failed", "pending_tx_ids": [0]}},
            "positive integer",
        ),
        (
            {"type": "wallet_eip712_response", "payload": {"status": "success", "signature": "nope"}},
            "signature",
        ),
    ],
)
async def test_a_malformed_wallet_answer_is_a_400_and_changes_nothing(
    server: Harness, on_anvil: ChainFixture, answer: dict[str, Any], error: str
) -> None:
    h, sid = server, new_id()
    _, body = await _park_a_transfer(h, on_anvil, sid, on_anvil.accounts[3], on_anvil.accounts[8].address)
    r = await _system(h, sid, answer)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_input" and error in r.json()["error"]["message"]
    after = (await h.state(sid)).json()
    assert len(after["messages"]) == len(body["messages"])
    assert list(after["user_state"]["pending_txs"]) == ["1"] and after["is_processing"]


async def test_typed_data_signature_hand_off(server: Harness, on_anvil: ChainFixture) -> None:
    h, sid = server, new_id()
    signer = on_anvil.accounts[1]
    state = _user_state(signer)
    r = await h.chat(sid, "sign the order", app="signer", user_state=state)
    assert r.status_code == 200, r.text
    call, body = await _wait_for_request(h, sid, state)
    assert call["type"] == "wallet_eip712_request"
    assert call["payload"]["pending_eip712_id"] == 1
    assert call["payload"]["typed_data"] == _typed_data(31337)
    assert body["user_state"]["pending_eip712s"]["1"]["description"] == "Sign the test order"
    signed = Account.sign_typed_data(signer.private_key, full_message=call["payload"]["typed_data"])
    signature = "0x" + signed.signature.hex().removeprefix("0x")
    r = await _system(
        h, sid, {"type": "wallet_eip712_response", "payload": {"status": "success", "signature": signature}}
    )
    assert r.status_code == 200, r.text
    final = await h.wait_idle(sid, app="signer")
    assert final["messages"][-1]["content"] == f"Result: The user signed Order. Signature: {signature}"


async def test_a_turn_that_cannot_park_ends_in_error(
    server: Harness, on_anvil: ChainFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(server.services.manager.store, "park_turn", broken)
    sid, sender = new_id(), on_anvil.accounts[3]
    r = await server.chat(
        sid, f"send 0.1 ETH to {on_anvil.accounts[8].address}", user_state=_user_state(sender)
    )
    assert r.status_code == 200, r.text
    final = await server.wait_idle(sid)
    assert final["status"] == "error"
    assert {"SystemError": "The turn could not wait for the wallet: storing it failed."} in final[
        "system_events"
    ]
    assert "pending_txs" not in final["user_state"]


async def test_another_replica_resumes_the_turn(chain_settings: Settings, on_anvil: ChainFixture) -> None:
    sid, sender = new_id(), on_anvil.accounts[4]
    async with running(chain_settings, _models()) as a, running(chain_settings, _models()) as b:
        call, _ = await _park_a_transfer(a, on_anvil, sid, sender, on_anvil.accounts[8].address)
        # B has never seen the session; it reads the parked turn from the database.
        assert list((await b.state(sid)).json()["user_state"]["pending_txs"]) == ["1"]
        tx_hash = _sign_and_send(on_anvil, sender, call["payload"])
        answer = {"type": "wallet:tx_complete", "payload": {"txHash": tx_hash, "status": "success"}}
        assert (await _system(b, sid, answer)).status_code == 200
        final = await b.wait_idle(sid)
        assert f"Transaction {tx_hash} confirmed" in final["messages"][-1]["content"]
        assert b.services.manager.owner != a.services.manager.owner
        # A, which parked it, sees the end too (the session is read from the database again).
        assert (await a.wait_idle(sid))["messages"][-1]["content"] == final["messages"][-1]["content"]


async def test_request_ids_are_never_reused_in_a_session(server: Harness, on_anvil: ChainFixture) -> None:
    h, sid = server, new_id()
    sender, to = on_anvil.accounts[3], on_anvil.accounts[8].address
    await _park_a_transfer(h, on_anvil, sid, sender, to)
    await _system(h, sid, {"type": "wallet:tx_complete", "payload": {"txHash": "", "status": "failed"}})
    await h.wait_idle(sid)
    h.services.manager.forget(sid)  # as after an eviction or a restart: read from the database
    call, body = await _park_a_transfer(h, on_anvil, sid, sender, to)
    assert call["payload"]["tx_ids"] == [2] and list(body["user_state"]["pending_txs"]) == ["2"]
