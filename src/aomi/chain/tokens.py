"""ERC-20 tokens: the symbols known per chain, and reading a token's metadata and balances."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from web3.exceptions import BadFunctionCallOutput, ContractLogicError

from aomi.chain.abi import decode_result, encode_call, parse_signature
from aomi.chain.addresses import normalize_address
from aomi.chain.networks import W3, Chains, describe
from aomi.errors import ChainConfigError, InvalidAddress, InvalidInput

# Well-known tokens per chain (EIP-55: a typo fails the checksum at import).
BUILTIN_TOKENS: dict[int, dict[str, str]] = {
    1: {
        "USDC": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
        "USDT": "0xdAC17F958D2ee523a2206206994597C13D831ec7",
        "DAI": "0x6B175474E89094C44Da98b954EedeAC495271d0F",
        "WETH": "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
        "WBTC": "0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599",
        "LINK": "0x514910771AF9Ca656af840dff83E8264EcF986CA",
        "UNI": "0x1f9840a85d5aF5bf1D1762F925BDADdC4201F984",
    },
    10: {
        "USDC": "0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85",
        "WETH": "0x4200000000000000000000000000000000000006",
        "OP": "0x4200000000000000000000000000000000000042",
    },
    137: {
        "USDC": "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359",
        "WETH": "0x7ceB23fD6bC0adD59E62ac25578270cFf1b9f619",
    },
    8453: {
        "USDC": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        "WETH": "0x4200000000000000000000000000000000000006",
    },
    42161: {
        "USDC": "0xaf88d065e77c8cC2239327C5EDb3A432268e5831",
        "WETH": "0x82aF49447D8a07e3bd95BD0d56f35241523fBab1",
        "ARB": "0x912CE59144191C1204E64559FE8253a0e49E6548",
    },
}
for _chain in BUILTIN_TOKENS.values():
    for _symbol, _address in _chain.items():
        normalize_address(_address)


def parse_token_setting(text: str) -> dict[int, dict[str, str]]:
    """`AOMI_TOKENS`: `31337:TUSD=0x...,8453:DEGEN=0x...` -> {chain: {SYMBOL: address}}."""
    found: dict[int, dict[str, str]] = {}
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        m = re.fullmatch(r"(\d+):([A-Za-z0-9.\-_]{1,20})=(\S+)", entry)
        if not m or int(m.group(1)) <= 0:
            raise ChainConfigError(f"AOMI_TOKENS: entry {entry!r} is not of the form chain_id:SYMBOL=address")
        try:
            address = normalize_address(m.group(3))
        except InvalidAddress as exc:
            raise ChainConfigError(f"AOMI_TOKENS: {exc.message}") from None
        found.setdefault(int(m.group(1)), {})[m.group(2).upper()] = address
    return found


@dataclass(frozen=True)
class TokenInfo:
    address: str
    name: str
    symbol: str
    decimals: int
    total_supply: int


class TokenBook:
    """Token symbols per chain: the built-in ones, and the operator's on top."""

    def __init__(self, extra: Mapping[int, Mapping[str, str]]) -> None:
        self._by_chain = {chain: dict(tokens) for chain, tokens in BUILTIN_TOKENS.items()}
        for chain, tokens in extra.items():
            self._by_chain.setdefault(chain, {}).update(tokens)

    def address_of(self, token: str, chain_id: int) -> str:
        """A token given by address or by a symbol known on the chain."""
        text = token.strip()
        if text.lower().startswith("0x"):
            try:
                return normalize_address(text)
            except InvalidAddress as exc:
                raise InvalidInput(f"token: {exc.message}") from None
        known = self._by_chain.get(chain_id, {})
        address = known.get(text.upper())
        if address is None:
            names = ", ".join(sorted(known)) or "none"
            raise InvalidInput(
                f"unknown token symbol {text[:20]!r} on {describe(chain_id)} (known here: {names}); "
                "give the token's contract address instead"
            )
        return address


async def _call(w3: W3, to: str, signature: str, args: list[object]) -> bytes:
    sig = parse_signature(signature)
    data = encode_call(sig, args)
    result = await w3.eth.call({"to": to, "data": "0x" + data.hex()})  # type: ignore[typeddict-item]
    return bytes(result)


async def _text(w3: W3, to: str, fn: str) -> str:
    """`name()` / `symbol()`: a string, or a bytes32 in old tokens (MKR)."""
    raw = await _call(w3, to, f"{fn}()", [])
    if len(raw) == 32:
        return raw.rstrip(b"\0").decode(errors="replace")
    (text,) = decode_result(["string"], raw)
    return str(text)


async def read_token(chains: Chains, chain_id: int, address: str) -> TokenInfo:
    """A token's name, symbol, decimals and supply; InvalidInput when the address is no ERC-20."""

    async def read(w3: W3) -> TokenInfo:
        code = await w3.eth.get_code(address)  # type: ignore[arg-type]
        if not code:
            raise InvalidInput(f"{address} is not a contract on {describe(chain_id)}")
        try:
            (decimals,) = decode_result(["uint8"], await _call(w3, address, "decimals()", []))
            (supply,) = decode_result(["uint256"], await _call(w3, address, "totalSupply()", []))
            symbol = await _text(w3, address, "symbol")
            name = await _text(w3, address, "name")
        except (ContractLogicError, BadFunctionCallOutput, InvalidInput):
            raise InvalidInput(
                f"{address} on {describe(chain_id)} does not answer as an ERC-20 token "
                "(decimals, symbol, name, totalSupply)"
            ) from None
        return TokenInfo(address, name, symbol, int(decimals), int(supply))

    return await chains.read(chain_id, read)


async def token_balance(chains: Chains, chain_id: int, token: str, holder: str) -> int:
    async def read(w3: W3) -> int:
        try:
            (value,) = decode_result(["uint256"], await _call(w3, token, "balanceOf(address)", [holder]))
        except (ContractLogicError, BadFunctionCallOutput, InvalidInput):
            raise InvalidInput(f"{token} on {describe(chain_id)} has no ERC-20 balanceOf") from None
        return int(value)

    return await chains.read(chain_id, read)
