"""The chain tools against a real chain (Anvil) with contracts the tests deploy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pydantic_ai import RunContext, ToolFailed
from pydantic_ai.models.test import TestModel
from pydantic_ai.usage import RunUsage

from aomi.agent.deps import TurnDeps
from aomi.chain.units import from_base_units
from aomi.tools import chain as tools
from aomi.tools.wallet import request_typed_data_signature, send_transaction_to_wallet
from tests.support.anvil import ChainFixture, chain_snapshot, load_artifact, send, web3_for
from tests.support.chain import on_chain
from tests.support.turns import make_settings, turn_deps


async def _ctx(
    tmp_path: Path, fx: ChainFixture, wallet: str | None = None, **more: object
) -> AsyncIterator[RunContext[TurnDeps]]:
    settings = on_chain(make_settings(tmp_path, "http://127.0.0.1:9"), fx, **more)
    async with turn_deps(settings, wallet_address=wallet, chain_id=fx.chain_id if wallet else None) as deps:
        yield RunContext(deps=deps, model=TestModel(), usage=RunUsage())


@pytest_asyncio.fixture
async def ctx(tmp_path: Path, chain_fixture: ChainFixture) -> AsyncIterator[RunContext[TurnDeps]]:
    async for c in _ctx(tmp_path, chain_fixture, chain_fixture.accounts[0].address):
        yield c


async def test_native_balance_follows_a_transfer(
    ctx: RunContext[TurnDeps], chain_fixture: ChainFixture
) -> None:
    fx = chain_fixture
    w3 = web3_for(fx.url)
    payer, payee = fx.accounts[5], fx.accounts[6]
    with chain_snapshot(fx.url):
        before = w3.eth.get_balance(payee.address)
        text = await tools.get_balance(ctx, payee.address)
        assert f"{from_base_units(before, 18)} ETH ({before} wei)" in text
        tx = {"to": payee.address, "value": 15 * 10**17, "from": payer.address}
        w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))  # type: ignore[arg-type]
        after = await tools.get_balance(ctx, payee.address)
        total = before + 15 * 10**17
        where = "on Anvil (local) (chain 31337)."
        assert after == f"{payee.address} holds {from_base_units(total, 18)} ETH ({total} wei) {where}"
        # No address: the session's wallet; an ENS name resolves first.
        assert fx.accounts[0].address in await tools.get_balance(ctx)
        assert fx.ens_address in await tools.get_balance(ctx, fx.ens_name)


async def test_token_balance_and_info_with_decimals(
    ctx: RunContext[TurnDeps], chain_fixture: ChainFixture
) -> None:
    fx = chain_fixture
    w3 = web3_for(fx.url)
    token = w3.eth.contract(address=fx.token, abi=_erc20_abi())
    receiver = fx.accounts[7].address
    with chain_snapshot(fx.url):
        send(w3, token.functions.transfer(receiver, 12_500_000), fx.accounts[0].private_key)
        by_symbol = await tools.get_token_balance(ctx, "tusd", receiver)
        assert by_symbol.startswith(
            f"{receiver} holds 12.5 TUSD (12500000 base units) of Test USD (TUSD, 6 decimals"
        )
        by_address = await tools.get_token_balance(ctx, fx.token.lower())
        assert "999987.5 TUSD (999987500000 base units)" in by_address
    info = await tools.get_token_info(ctx, "TUSD")
    assert info == (
        f"Test USD (TUSD) at {fx.token} on Anvil (local) (chain 31337): 6 decimals, "
        "total supply 1000000 TUSD (1000000000000 base units)."
    )


async def test_ens_both_ways(ctx: RunContext[TurnDeps], chain_fixture: ChainFixture) -> None:
    fx = chain_fixture
    assert (
        await tools.resolve_ens(ctx, "Alice.Test")
        == f"Alice.Test resolves to {fx.ens_address} on Anvil (local) (chain 31337)."
    )
    assert await tools.resolve_ens(ctx, fx.ens_address.lower()) == (
        f"The primary ENS name of {fx.ens_address} is alice.test on Anvil (local) (chain 31337)."
    )
    assert "has no address" in await tools.resolve_ens(ctx, "nobody.test")
    assert "has no primary ENS name" in await tools.resolve_ens(ctx, fx.accounts[9].address)


async def test_view_call_decodes_and_encoding_matches(
    ctx: RunContext[TurnDeps], chain_fixture: ChainFixture
) -> None:
    fx = chain_fixture
    holder = fx.accounts[0].address
    text = await tools.call_view_function(ctx, fx.token, "balanceOf(address)(uint256)", [holder])
    balance = (
        web3_for(fx.url).eth.contract(address=fx.token, abi=_erc20_abi()).functions.balanceOf(holder).call()
    )
    assert text == f"balanceOf(address) on {fx.token} (Anvil (local) (chain 31337)) returned {balance}."
    solidity = await tools.call_view_function(
        ctx, fx.token, "function symbol() external view returns (string)"
    )
    assert solidity.endswith("returned TUSD.")
    raw = await tools.call_view_function(ctx, fx.token, "decimals()")
    assert "returned 0x" + "0" * 62 + "06" in raw
    encoded = await tools.encode_function_call(ctx, "transfer(address,uint256)", [holder, "1000"])
    expected = web3_for(fx.url).eth.contract(abi=_erc20_abi()).encode_abi("transfer", [holder, 1000])
    assert encoded.startswith(f"Calldata for transfer(address,uint256): {expected} (selector 0xa9059cbb)")


async def test_chain_context(ctx: RunContext[TurnDeps], chain_fixture: ChainFixture) -> None:
    block = web3_for(chain_fixture.url).eth.block_number
    text = await tools.get_chain_context(ctx)
    assert text.startswith(f"Anvil (local) (chain 31337): latest block {block} at ")
    assert "base fee" in text and chain_fixture.accounts[0].address in text


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: tools.get_balance(c, "0x123"), "not an EVM address"),
        (
            lambda c: tools.get_balance(
                c, "0xF39FD6E51AAD88F6F4CE6AB8827279CFFFB92266".lower().replace("f39", "F39")
            ),
            "checksum",
        ),
        (
            lambda c: tools.get_balance(c, None, 999),
            "no RPC endpoint is configured for chain 999 (chain 999)",
        ),
        (lambda c: tools.get_token_balance(c, "NOPE"), "unknown token symbol 'NOPE'"),
        (
            lambda c: tools.get_token_info(c, "0x000000000000000000000000000000000000dEaD"),
            "is not a contract",
        ),
        (
            lambda c: tools.call_view_function(
                c, "0x000000000000000000000000000000000000dEaD", "f(uint8)(uint8)", [300]
            ),
            "out of range",
        ),
        (
            lambda c: tools.call_view_function(
                c, "0x000000000000000000000000000000000000dEaD", "f(address", []
            ),
            "unbalanced",
        ),
        (
            lambda c: tools.call_view_function(
                c, "0x000000000000000000000000000000000000dEaD", "f(uint7)", [1]
            ),
            "unknown ABI type",
        ),
        (lambda c: tools.encode_function_call(c, "f(uint256)", []), "takes 1 argument(s); 0 were given"),
        (lambda c: tools.resolve_ens(c, "not an address"), "give an ENS name or an 0x address"),
        (lambda c: send_transaction_to_wallet(c, "0xdead"), "recipient: not an EVM address"),
        (
            lambda c: send_transaction_to_wallet(
                c, "0x000000000000000000000000000000000000dEaD", data="0xzz"
            ),
            "is not hex calldata",
        ),
        (
            lambda c: send_transaction_to_wallet(c, "0x000000000000000000000000000000000000dEaD", "0.1.2"),
            "is not a number",
        ),
        (
            lambda c: send_transaction_to_wallet(c, "0x000000000000000000000000000000000000dEaD", "1e-19"),
            "more than 18 decimal places",
        ),
        (lambda c: request_typed_data_signature(c, {"types": {}}), "must be an object with types"),
        (lambda c: request_typed_data_signature(c, "{not json"), "typed_data is not valid JSON"),
        (
            lambda c: request_typed_data_signature(
                c, {"types": {}, "primaryType": "Order", "domain": {}, "message": {}}
            ),
            "typed_data is not valid EIP-712",
        ),
    ],
)
async def test_bad_input_is_a_tool_error(ctx: RunContext[TurnDeps], call: object, message: str) -> None:
    with pytest.raises(ToolFailed) as failed:
        await call(ctx)  # type: ignore[operator]
    assert message in str(failed.value)


async def test_a_view_call_that_reverts_names_the_reason(
    ctx: RunContext[TurnDeps], chain_fixture: ChainFixture
) -> None:
    fx = chain_fixture
    with pytest.raises(ToolFailed, match=r"transferFrom.* reverted: ERC20: insufficient allowance"):
        await tools.call_view_function(
            ctx,
            fx.token,
            "transferFrom(address,address,uint256)(bool)",
            [fx.accounts[0].address, fx.accounts[1].address, 1],
        )


async def test_rpc_down_is_a_clear_tool_error(tmp_path: Path, chain_fixture: ChainFixture) -> None:
    async for ctx in _ctx(
        tmp_path, chain_fixture, rpc_urls="31337=http://127.0.0.1:9", rpc_timeout_seconds=2.0
    ):
        with pytest.raises(
            ToolFailed, match=r"the RPC of Anvil \(local\) \(chain 31337\) failed: it could not be reached"
        ):
            await tools.get_chain_context(ctx)


async def test_wallet_tools_need_a_connected_wallet(tmp_path: Path, chain_fixture: ChainFixture) -> None:
    async for ctx in _ctx(tmp_path, chain_fixture):
        with pytest.raises(ToolFailed, match="no wallet is connected"):
            await send_transaction_to_wallet(ctx, chain_fixture.accounts[1].address, "0.1")
        with pytest.raises(ToolFailed, match="no address was given and the session has no wallet connected"):
            await tools.get_balance(ctx)


def _erc20_abi() -> Any:
    return load_artifact("TestToken")["abi"]
