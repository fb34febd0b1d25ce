"""`POST /api/simulate` on a fork (Anvil) of a real chain (the test's Anvil node)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from aomi.settings import Settings
from tests.support.anvil import ChainFixture, load_artifact, web3_for
from tests.support.chain import on_chain
from tests.support.harness import Harness, headers, new_id, running, write_app


@pytest_asyncio.fixture
async def server(settings: Settings, chain_fixture: ChainFixture) -> AsyncIterator[Harness]:
    write_app(settings.apps_dir, "keyed")
    fx = chain_fixture
    both = f"{fx.chain_id}={fx.url},1={fx.url}"  # chain 1 "is" the test node too: a second fork
    async with running(on_chain(settings, fx, rpc_urls=both, simulation_forks=1)) as harness:
        yield harness


def _token(fx: ChainFixture) -> Any:
    return web3_for(fx.url).eth.contract(address=fx.token, abi=load_artifact("TestToken")["abi"])


def _tx(fx: ChainFixture, fn: Any, label: str) -> dict[str, Any]:
    return {
        "to": fx.token,
        "value": "0",
        "data": fn._encode_transaction_data(),
        "label": label,
        "chain_id": 31337,
    }


async def _simulate(h: Harness, body: dict[str, Any], sid: str | None = None, **query: str) -> Any:
    return await h.client.post("/api/simulate", json=body, params=query, headers=headers(sid or new_id()))


def _chain_state(fx: ChainFixture, owner: str, receiver: str) -> tuple[int, int, int, int]:
    token, w3 = _token(fx), web3_for(fx.url)
    return (
        w3.eth.block_number,
        token.functions.allowance(owner, owner).call(),
        token.functions.balanceOf(owner).call(),
        token.functions.balanceOf(receiver).call(),
    )


async def test_approve_then_transfer_from_succeeds_and_the_chain_is_unchanged(
    server: Harness, chain_fixture: ChainFixture
) -> None:
    fx = chain_fixture
    owner, receiver = fx.accounts[0].address, fx.accounts[5].address
    token = _token(fx)
    before = _chain_state(fx, owner, receiver)
    batch = [
        _tx(fx, token.functions.approve(owner, 50_000_000), "Approve"),
        _tx(fx, token.functions.transferFrom(owner, receiver, 50_000_000), "Transfer from"),
    ]
    r = await _simulate(server, {"transactions": batch, "from": owner, "chain_id": 31337})
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert (result["batch_success"], result["stateful"]) == (True, True), [
        (x["success"], x["revert_reason"]) for x in result["steps"]
    ]
    assert result["from"] == owner and result["network"] == "Anvil (local)"
    steps = result["steps"]
    assert [(s["step"], s["label"], s["success"]) for s in steps] == [
        (1, "Approve", True),
        (2, "Transfer from", True),
    ]
    assert steps[1]["result"] == "0x" + "0" * 63 + "1"  # transferFrom returned true
    assert all(s["gas_used"] > 21_000 and s["revert_reason"] is None for s in steps)
    assert result["total_gas"] == steps[0]["gas_used"] + steps[1]["gas_used"]
    assert steps[0]["tx"] == {"to": fx.token, "value_wei": "0", "value_eth": "0", "data": batch[0]["data"]}
    assert _chain_state(fx, owner, receiver) == before  # nothing reached the real chain

    # Without the approval first, the same transferFrom reverts: each step saw the one before.
    r = await _simulate(server, {"transactions": batch[1:], "from": owner})
    (alone,) = r.json()["result"]["steps"]
    assert (alone["success"], alone["revert_reason"]) == (False, "ERC20: insufficient allowance")


async def test_a_reverting_transaction_reports_its_reason(
    server: Harness, chain_fixture: ChainFixture
) -> None:
    fx = chain_fixture
    poor = fx.accounts[9].address
    send_eth = {"to": fx.accounts[8].address, "value": str(10**15), "label": "Tip"}
    overdraw = _tx(fx, _token(fx).functions.transfer(fx.accounts[8].address, 1), "Overdraw")
    r = await _simulate(server, {"transactions": [send_eth, overdraw], "from": poor})
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert result["batch_success"] is False
    tip, bad = result["steps"]
    assert tip["success"] is True and tip["tx"]["value_eth"] == "0.001" and tip["gas_used"] == 21_000
    assert (bad["success"], bad["revert_reason"], bad["result"]) == (
        False,
        "ERC20: insufficient balance",
        None,
    )
    assert result["total_gas"] == 21_000


async def test_from_and_chain_default_to_the_sessions_wallet(
    server: Harness, chain_fixture: ChainFixture
) -> None:
    fx, sid = chain_fixture, new_id()
    owner = fx.accounts[0].address
    state = json.dumps({"address": owner.lower(), "chainId": "0x7a69"})
    assert (await server.chat(sid, "hello", user_state=state)).status_code == 200
    await server.wait_idle(sid)
    r = await _simulate(server, {"transactions": [{"to": fx.accounts[1].address, "value": "0x10"}]}, sid)
    assert r.status_code == 200, r.text
    assert r.json()["result"]["from"] == owner and r.json()["result"]["steps"][0]["tx"]["value_wei"] == "16"


async def test_forks_are_reused_and_bounded(server: Harness, chain_fixture: ChainFixture) -> None:
    fx = chain_fixture
    body = {"transactions": [{"to": fx.accounts[1].address}], "from": fx.accounts[0].address}
    for chain_id in (31337, 1, 31337):
        r = await _simulate(server, {**body, "chain_id": chain_id})
        assert r.status_code == 200, r.text
        assert r.json()["result"]["batch_success"] is True
        assert len(server.services.forks) == 1  # AOMI_SIMULATION_FORKS=1: the other one stopped


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"transactions": []}, 400, "non-empty list"),
        ({"transactions": [{"to": "0x12"}], "from": "0x" + "1" * 40}, 400, "not an EVM address"),
        (
            {"transactions": [{"to": "0x" + "1" * 40, "data": "0xabc"}], "from": "0x" + "1" * 40},
            400,
            "not hex calldata",
        ),
        (
            {"transactions": [{"to": "0x" + "1" * 40, "value": "1.5"}], "from": "0x" + "1" * 40},
            400,
            "must be wei",
        ),
        (
            {"transactions": [{"to": "0x" + "1" * 40}], "from": "0x" + "1" * 40, "chain_id": 777},
            400,
            "no RPC endpoint",
        ),
        (
            {"transactions": [{"to": "0x" + "1" * 40}], "from": "0x" + "1" * 40, "chain_id": "x"},
            400,
            "chain_id",
        ),
        (
            {"transactions": [{"to": "0x" + "1" * 40, "chain_id": 1}], "chain_id": 31337},
            400,
            "simulate one chain",
        ),
        ({"transactions": [{"to": "0x" + "1" * 40}]}, 400, "from is required"),
        ({"transactions": [{"to": "0x" + "1" * 40}] * 21, "from": "0x" + "1" * 40}, 400, "at most 20"),
        ({"transactions": "nope"}, 400, "non-empty list"),
    ],
)
async def test_bad_input_is_a_clear_4xx(
    server: Harness, body: dict[str, Any], status: int, message: str
) -> None:
    r = await _simulate(server, body)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]["message"]


async def test_a_keyed_app_needs_its_key(server: Harness, chain_fixture: ChainFixture) -> None:
    body = {
        "transactions": [{"to": chain_fixture.accounts[1].address}],
        "from": chain_fixture.accounts[0].address,
    }
    assert (await _simulate(server, body, app="keyed")).status_code == 401
    key = await server.issue_key("keyed")
    r = await server.client.post(
        "/api/simulate", json=body, params={"app": "keyed"}, headers=headers(new_id(), key)
    )
    assert r.status_code == 200, r.text


async def test_an_unreachable_rpc_is_a_424(settings: Settings, chain_fixture: ChainFixture) -> None:
    down = on_chain(settings, chain_fixture, rpc_urls="31337=http://127.0.0.1:9")
    async with running(down) as h:
        body = {
            "transactions": [{"to": chain_fixture.accounts[1].address}],
            "from": chain_fixture.accounts[0].address,
        }
        r = await _simulate(h, body)
    assert r.status_code == 424, r.text
    assert r.json()["error"]["code"] == "chain_unavailable"
    assert "Anvil (local) (chain 31337)" in r.json()["error"]["message"]
