"""The offline model's chain intents through the HTTP API, on a real chain: the whole flow runs
without a provider key."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from aomi.chain.units import from_base_units
from aomi.settings import Settings
from tests.support.anvil import ChainFixture, web3_for
from tests.support.chain import on_chain
from tests.support.harness import Harness, new_id, running


@pytest_asyncio.fixture
async def server(settings: Settings, chain_fixture: ChainFixture) -> AsyncIterator[Harness]:
    async with running(on_chain(settings, chain_fixture)) as harness:
        yield harness


async def _ask(h: Harness, message: str, wallet: str | None = None) -> str:
    sid = new_id()
    params = {"user_state": json.dumps({"address": wallet, "chainId": 31337})} if wallet else {}
    r = await h.chat(sid, message, **params)
    assert r.status_code == 200, r.text
    final = await h.wait_idle(sid)
    assert final["status"] == "idle", final
    content: str = final["messages"][-1]["content"]
    return content


async def test_offline_intents_reach_the_chain(server: Harness, chain_fixture: ChainFixture) -> None:
    fx = chain_fixture
    me, alice = fx.accounts[0].address, fx.ens_address
    w3 = web3_for(fx.url)
    wei = w3.eth.get_balance(me)
    assert f"{me} holds {from_base_units(wei, 18)} ETH ({wei} wei)" in await _ask(
        server, "what is my balance?", me
    )
    assert f"{alice} holds" in await _ask(server, f"balance of {fx.ens_name}")
    assert "holds 1000000 TUSD (1000000000000 base units)" in await _ask(server, "my TUSD balance", me)
    assert "holds 0 TUSD" in await _ask(server, f"token balance {fx.token} for {fx.accounts[9].address}")
    assert "6 decimals" in await _ask(server, "token info TUSD")
    assert alice in await _ask(server, f"resolve {fx.ens_name}")
    assert "is alice.test" in await _ask(server, f"ENS name of {alice}")
    answer = await _ask(server, f"call balanceOf(address)(uint256) on {fx.token} with {me}")
    assert answer.startswith(
        f"balanceOf(address) on {fx.token} (Anvil (local) (chain 31337)) returned 1000000000000"
    )
    assert "latest block" in await _ask(server, "what is the latest block?")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("balance of 0x1234", "I could not get a result from get_balance"),
        ("send 0.1 ETH to 0x000000000000000000000000000000000000dEaD", "no wallet is connected"),
        ("call f(uint7) on 0x000000000000000000000000000000000000dEaD", "unknown ABI type"),
    ],
)
async def test_bad_input_is_reported_by_the_agent(server: Harness, message: str, expected: str) -> None:
    assert expected in await _ask(server, message)


async def test_an_unreachable_rpc_is_reported_and_the_turn_ends(
    settings: Settings, chain_fixture: ChainFixture
) -> None:
    down = on_chain(settings, chain_fixture, rpc_urls="31337=http://127.0.0.1:9", rpc_timeout_seconds=2.0)
    async with running(down) as h:
        answer = await _ask(h, "latest block")
    assert "the RPC of Anvil (local) (chain 31337) failed: it could not be reached" in answer
