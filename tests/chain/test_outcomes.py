"""What the agent hears when a parked wallet request settles: receipts looked up on a real chain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from pydantic_ai import ToolFailed

from aomi.chain.networks import Chains
from aomi.wallet.outcomes import outcome
from aomi.wallet.requests import EIP712, TRANSACTION, RequestStatus, WalletRequest
from tests.support.anvil import ChainFixture, chain_snapshot, load_artifact, web3_for


@pytest_asyncio.fixture
async def chains(chain_fixture: ChainFixture) -> AsyncIterator[Chains]:
    c = Chains({31337: chain_fixture.url, 1: "http://127.0.0.1:9"}, 31337, 2.0)
    yield c
    await c.aclose()


def _request(
    status: RequestStatus, answer: dict[str, Any] | None, *, sender: str, chain_id: int = 31337
) -> WalletRequest:
    payload = {
        "to": sender,
        "value": "0",
        "data": "0x",
        "chain_id": chain_id,
        "from": sender,
        "description": "x",
    }
    return WalletRequest(
        1, TRANSACTION, "c1", payload, None, None, expires_ms=0, status=status, answer=answer
    )


def _send(fx: ChainFixture, sender: int, tx: dict[str, Any]) -> str:
    w3 = web3_for(fx.url)
    tx_hash = w3.eth.send_transaction({"from": fx.accounts[sender].address, **tx})  # type: ignore[typeddict-item]
    w3.eth.wait_for_transaction_receipt(tx_hash)
    return "0x" + bytes(tx_hash).hex()


async def test_a_mined_revert_and_a_foreign_sender_are_reported(
    chains: Chains, chain_fixture: ChainFixture
) -> None:
    fx = chain_fixture
    token = web3_for(fx.url).eth.contract(address=fx.token, abi=load_artifact("TestToken")["abi"])
    overdraw = token.functions.transfer(fx.accounts[1].address, 1)._encode_transaction_data()
    with chain_snapshot(fx.url):
        reverted = _send(fx, 9, {"to": fx.token, "data": overdraw, "gas": 100_000})
        req = _request(RequestStatus.SUCCESS, {"txHash": reverted}, sender=fx.accounts[9].address)
        result = await outcome(req, chains, 1.0, 600)
        assert isinstance(result, ToolFailed) and "but reverted" in result.message
        other = _send(fx, 4, {"to": fx.accounts[1].address, "value": 1})
        req = _request(RequestStatus.SUCCESS, {"txHash": other}, sender=fx.accounts[9].address)
        text = await outcome(req, chains, 1.0, 600)
        assert "confirmed in block" in text and f"it was sent from {fx.accounts[4].address}" in text


async def test_a_missing_receipt_and_an_unreachable_chain_are_said_plainly(
    chains: Chains, chain_fixture: ChainFixture
) -> None:
    sender = chain_fixture.accounts[9].address
    unknown = "0x" + "12" * 32
    text = await outcome(
        _request(RequestStatus.SUCCESS, {"txHash": unknown}, sender=sender), chains, 0.3, 600
    )
    assert "no receipt was found on Anvil (local) (chain 31337) within 0.3 s: it may still be pending" in text
    down = _request(RequestStatus.SUCCESS, {"txHash": unknown}, sender=sender, chain_id=1)
    text = await outcome(down, chains, 0.3, 600)
    assert "could not be checked on Ethereum (chain 1): the RPC of Ethereum (chain 1) failed" in text


async def test_refusals_expiry_and_cancellation_are_tool_failures(
    chains: Chains, chain_fixture: ChainFixture
) -> None:
    sender = chain_fixture.accounts[9].address
    cases = {
        RequestStatus.FAILED: "The user rejected the transaction in their wallet (User denied).",
        RequestStatus.EXPIRED: "The wallet did not answer the transaction within 600 s; the request expired.",
        RequestStatus.CANCELLED: "The transaction was cancelled.",
    }
    for status, message in cases.items():
        result = await outcome(_request(status, {"error": "User denied"}, sender=sender), chains, 1.0, 600)
        assert isinstance(result, ToolFailed) and result.message == message
    sig = WalletRequest(2, EIP712, "c2", {"typed_data": {}}, None, None, 0, status=RequestStatus.SUPERSEDED)
    result = await outcome(sig, chains, 1.0, 600)
    assert isinstance(result, ToolFailed) and "instead of answering the signature request" in result.message
