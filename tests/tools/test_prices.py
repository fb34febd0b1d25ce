"""`get_token_price` against a real loopback fake of the price API."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pydantic_ai import RunContext, ToolFailed
from pydantic_ai.usage import RunUsage

from aomi.agent.deps import TurnDeps
from aomi.agent.offline import build_offline_model
from aomi.apps.registry import default_app
from aomi.tools.prices import coingecko_id, format_usd, get_token_price
from aomi.tools.registry import BUILTIN_TOOLS, tools_for
from tests.support.price_server import FakePriceApi
from tests.support.turns import make_settings, turn_deps


async def lookup(tmp_path: Path, url: str, symbol: str, tool_timeout_seconds: float = 5.0) -> str:
    settings = make_settings(tmp_path, url, tool_timeout_seconds)
    async with turn_deps(settings) as deps:
        ctx = RunContext[TurnDeps](deps=deps, model=build_offline_model(), usage=RunUsage())
        return await get_token_price(ctx, symbol)


async def test_price_is_formatted(tmp_path: Path, price_api: FakePriceApi) -> None:
    assert await lookup(tmp_path, price_api.url, "ETH") == "ETH price: $3,456.78 USD"
    assert price_api.requests == ["/api/v3/simple/price?ids=ethereum&vs_currencies=usd"]


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("ether", "ETH price: $3,456.78 USD"),
        (" Bitcoin ", "BTC price: $97,123.50 USD"),
        ("usdc", "USDC price: $0.9999 USD"),
        ("SHIB", "SHIB price: $0.00001235 USD"),
    ],
)
async def test_aliases_and_small_prices(
    tmp_path: Path, price_api: FakePriceApi, symbol: str, expected: str
) -> None:
    assert await lookup(tmp_path, price_api.url, symbol) == expected


async def test_unknown_symbol_is_passed_through_as_an_id(tmp_path: Path, price_api: FakePriceApi) -> None:
    price_api.prices["my-coin"] = 2.5
    assert await lookup(tmp_path, price_api.url, "My Coin") == "MY COIN price: $2.50 USD"
    assert price_api.requests[-1] == "/api/v3/simple/price?ids=my-coin&vs_currencies=usd"


async def test_id_missing_from_answer(tmp_path: Path, price_api: FakePriceApi) -> None:
    with pytest.raises(ToolFailed) as info:
        await lookup(tmp_path, price_api.url, "FOO")
    assert info.value.message == "no price found for 'FOO'"


async def test_missing_alias_names_the_id(tmp_path: Path, price_api: FakePriceApi) -> None:
    del price_api.prices["ethereum"]
    with pytest.raises(ToolFailed) as info:
        await lookup(tmp_path, price_api.url, "eth")
    assert info.value.message == "no price found for 'eth' (looked up as 'ethereum')"


async def test_http_500(tmp_path: Path, price_api: FakePriceApi) -> None:
    price_api.fail = True
    with pytest.raises(ToolFailed) as info:
        await lookup(tmp_path, price_api.url, "ETH")
    assert info.value.message == "price API answered HTTP 500"


async def test_answer_that_is_not_json(tmp_path: Path, price_api: FakePriceApi) -> None:
    price_api.malformed = True
    with pytest.raises(ToolFailed) as info:
        await lookup(tmp_path, price_api.url, "ETH")
    assert "not JSON" in info.value.message


async def test_unreachable_port(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ToolFailed) as info:
        await lookup(tmp_path, f"http://127.0.0.1:{port}/api/v3", "ETH")
    assert info.value.message.startswith("price API unreachable: ")


async def test_timeout(tmp_path: Path, price_api: FakePriceApi) -> None:
    price_api.delay = 30  # released when the fake stops, so the test does not wait it out
    with pytest.raises(ToolFailed) as info:
        await lookup(tmp_path, price_api.url, "ETH", tool_timeout_seconds=0.2)
    assert info.value.message == "price API timed out after 0.2s"


async def test_empty_symbol(tmp_path: Path, price_api: FakePriceApi) -> None:
    with pytest.raises(ToolFailed, match="no token symbol"):
        await lookup(tmp_path, price_api.url, "  ")
    assert price_api.requests == []


def test_helpers() -> None:
    assert coingecko_id("WETH") == "weth"
    assert coingecko_id("Matic") == "matic-network"
    assert format_usd(0) == "$0.00"
    assert format_usd(1) == "$1.00"
    assert format_usd(0.5) == "$0.5000"
    assert format_usd(1234567.891) == "$1,234,567.89"


def test_registry_exposes_the_tool_with_its_schema() -> None:
    tool = BUILTIN_TOOLS["get_token_price"]
    assert tool.name == "get_token_price"
    assert "USD price" in (tool.description or "")
    assert list(tool.function_schema.json_schema["properties"]) == ["symbol"]
    assert tool in tools_for(default_app())
