"""Built-in chain tools: chain context, balances, tokens, ENS, contract reads and call encoding.

Each uses the session's bound wallet and chain when the user names none. Expected failures
(bad input, an unknown chain, an RPC outage) reach the model as a failed tool result that says
what went wrong; they never end the turn.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, cast

from pydantic_ai import RunContext, ToolFailed
from web3.exceptions import BadFunctionCallOutput, ContractLogicError

from aomi.agent.deps import TurnDeps
from aomi.chain.abi import decode_result, encode_call, parse_signature
from aomi.chain.addresses import native_symbol, normalize_address
from aomi.chain.ens import looks_like_name
from aomi.chain.networks import W3, describe
from aomi.chain.tokens import read_token, token_balance
from aomi.chain.units import describe_amount, from_base_units
from aomi.errors import AomiError, InvalidAddress, InvalidInput

P = ParamSpec("P")
ToolFn = Callable[Concatenate[RunContext[TurnDeps], P], Awaitable[str]]


def tool_errors(fn: ToolFn[P]) -> ToolFn[P]:
    """Our domain errors become a failed tool result with their message (the run goes on)."""

    @functools.wraps(fn)
    async def wrapper(ctx: RunContext[TurnDeps], *args: P.args, **kwargs: P.kwargs) -> str:
        try:
            return await fn(ctx, *args, **kwargs)
        except AomiError as exc:
            raise ToolFailed(exc.message) from None

    return cast(ToolFn[P], wrapper)


def revert_text(exc: ContractLogicError) -> str:
    message = str(exc.message or exc)
    return message.removeprefix("execution reverted: ").removeprefix("execution reverted")


def chain_of(ctx: RunContext[TurnDeps], chain_id: int | None) -> int:
    return ctx.deps.chain.chains.chain_for(chain_id, ctx.deps.chain_id)


async def address_of(ctx: RunContext[TurnDeps], who: str | None, chain_id: int, role: str = "address") -> str:
    """An address given as hex or as an ENS name; the session's wallet when none is given."""
    if who is None or not who.strip():
        if ctx.deps.wallet_address is None:
            raise InvalidInput(f"no {role} was given and the session has no wallet connected")
        return ctx.deps.wallet_address
    text = who.strip()
    if looks_like_name(text):
        kit = ctx.deps.chain
        # ENS lives on the chain of its registry: mainnet names resolve there for any chain.
        ens_chain = chain_id if chain_id in kit.ens.registries else kit.chains.default_chain_id
        address = await kit.ens.resolve(text, ens_chain)
        if address is None:
            raise InvalidInput(f"the ENS name {text!r} does not resolve to an address")
        return address
    try:
        return normalize_address(text)
    except InvalidAddress as exc:
        raise InvalidInput(f"{role}: {exc.message}") from None


@tool_errors
async def get_chain_context(ctx: RunContext[TurnDeps], chain_id: int | None = None) -> str:
    """The chain's latest block, base fee and time, and the user's wallet on it.

    Args:
        chain_id: The chain to look at; default: the session's chain.
    """
    chain = chain_of(ctx, chain_id)

    async def read(w3: W3) -> tuple[int, int, int | None, int]:
        block = await w3.eth.get_block("latest")
        actual = await w3.eth.chain_id
        return int(block["number"]), int(block["timestamp"]), block.get("baseFeePerGas"), int(actual)

    number, stamp, base_fee, actual = await ctx.deps.chain.chains.read(chain, read)
    when = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    fee = f"{from_base_units(int(base_fee), 9)} gwei" if base_fee is not None else "none (pre-London chain)"
    wallet = ctx.deps.wallet_address or "none connected"
    note = f" Warning: its RPC reports chain id {actual}." if actual != chain else ""
    return f"{describe(chain)}: latest block {number} at {when}; base fee {fee}. Wallet: {wallet}.{note}"


@tool_errors
async def get_balance(
    ctx: RunContext[TurnDeps], address: str | None = None, chain_id: int | None = None
) -> str:
    """The native balance (ETH, or the chain's native coin) of an address or ENS name.

    Args:
        address: An 0x address or an ENS name; default: the user's wallet.
        chain_id: The chain; default: the session's chain.
    """
    chain = chain_of(ctx, chain_id)
    holder = await address_of(ctx, address, chain)

    async def read(w3: W3) -> int:
        return int(await w3.eth.get_balance(holder))  # type: ignore[arg-type]

    wei = await ctx.deps.chain.chains.read(chain, read)
    return f"{holder} holds {describe_amount(wei, 18, native_symbol(chain))} on {describe(chain)}."


@tool_errors
async def get_token_balance(
    ctx: RunContext[TurnDeps], token: str, address: str | None = None, chain_id: int | None = None
) -> str:
    """The balance of an ERC-20 token held by an address, in token units and base units.

    Args:
        token: The token's contract address, or a symbol known on the chain (e.g. USDC).
        address: The holder (0x address or ENS name); default: the user's wallet.
        chain_id: The chain; default: the session's chain.
    """
    chain = chain_of(ctx, chain_id)
    kit = ctx.deps.chain
    token_address = kit.tokens.address_of(token, chain)
    holder = await address_of(ctx, address, chain)
    info = await read_token(kit.chains, chain, token_address)
    value = await token_balance(kit.chains, chain, token_address, holder)
    amount = describe_amount(value, info.decimals, info.symbol)
    return (
        f"{holder} holds {amount} of {info.name} ({info.symbol}, {info.decimals} decimals, "
        f"{token_address}) on {describe(chain)}."
    )


@tool_errors
async def get_token_info(ctx: RunContext[TurnDeps], token: str, chain_id: int | None = None) -> str:
    """An ERC-20 token's name, symbol, decimals and total supply.

    Args:
        token: The token's contract address, or a symbol known on the chain.
        chain_id: The chain; default: the session's chain.
    """
    chain = chain_of(ctx, chain_id)
    kit = ctx.deps.chain
    info = await read_token(kit.chains, chain, kit.tokens.address_of(token, chain))
    supply = describe_amount(info.total_supply, info.decimals, info.symbol)
    return (
        f"{info.name} ({info.symbol}) at {info.address} on {describe(chain)}: {info.decimals} decimals, "
        f"total supply {supply}."
    )


@tool_errors
async def resolve_ens(ctx: RunContext[TurnDeps], name_or_address: str, chain_id: int | None = None) -> str:
    """Resolve an ENS name to its address, or an address to its primary ENS name.

    Args:
        name_or_address: An ENS name (e.g. vitalik.eth) or an 0x address.
        chain_id: The chain whose ENS registry to ask; default: the session's chain when it has
            one, else the default chain.
    """
    kit = ctx.deps.chain
    chain = chain_of(ctx, chain_id)
    if chain not in kit.ens.registries and chain_id is None:
        chain = kit.chains.default_chain_id
    text = name_or_address.strip()
    if looks_like_name(text):
        address = await kit.ens.resolve(text, chain)
        if address is None:
            return f"The ENS name {text} has no address on {describe(chain)}."
        return f"{text} resolves to {address} on {describe(chain)}."
    try:
        address = normalize_address(text)
    except InvalidAddress as exc:
        raise InvalidInput(f"{exc.message}; give an ENS name or an 0x address") from None
    record = await kit.ens.reverse(address, chain)
    if record.name is None:
        return f"{address} has no primary ENS name on {describe(chain)}."
    if not record.verified:
        return (
            f"{address} claims the ENS name {record.name}, but that name does not resolve back to it "
            f"on {describe(chain)}: treat it as unverified."
        )
    return f"The primary ENS name of {address} is {record.name} on {describe(chain)}."


def _show(values: list[Any]) -> str:
    shown = [str(v) if not isinstance(v, list) else repr(v) for v in values]
    return shown[0] if len(shown) == 1 else "(" + ", ".join(shown) + ")"


@tool_errors
async def call_view_function(
    ctx: RunContext[TurnDeps],
    contract: str,
    signature: str,
    args: list[Any] | None = None,
    chain_id: int | None = None,
) -> str:
    """Call a read-only contract function and decode its result.

    Args:
        contract: The contract's 0x address or ENS name.
        signature: The function, human-readable, with its return types, e.g.
            "balanceOf(address)(uint256)" or "function owner() view returns (address)".
        args: The arguments, in order, as JSON values (numbers may be strings).
        chain_id: The chain; default: the session's chain.
    """
    chain = chain_of(ctx, chain_id)
    sig = parse_signature(signature)
    data = encode_call(sig, args or [])
    target = await address_of(ctx, contract, chain, "contract")

    async def read(w3: W3) -> bytes:
        try:
            return bytes(await w3.eth.call({"to": target, "data": "0x" + data.hex()}))  # type: ignore[typeddict-item]
        except ContractLogicError as exc:
            raise InvalidInput(f"{sig.canonical} reverted: {revert_text(exc) or 'no reason given'}") from None
        except BadFunctionCallOutput:
            raise InvalidInput(f"{target} answered nothing to {sig.canonical}") from None

    raw = await ctx.deps.chain.chains.read(chain, read)
    if sig.outputs is None:
        return f"{sig.canonical} on {target} returned 0x{raw.hex()} (give return types to decode it)."
    if not raw and sig.outputs:
        raise InvalidInput(
            f"{target} on {describe(chain)} returned nothing: is it a contract with {sig.canonical}?"
        )
    values = decode_result(sig.outputs, raw)
    return f"{sig.canonical} on {target} ({describe(chain)}) returned {_show(values)}."


@tool_errors
async def encode_function_call(
    ctx: RunContext[TurnDeps], signature: str, args: list[Any] | None = None
) -> str:
    """ABI-encode a function call into transaction data (for a wallet request or a simulation).

    Args:
        signature: The function, human-readable, e.g. "transfer(address,uint256)".
        args: The arguments, in order, as JSON values (integers in base units; may be strings).
    """
    sig = parse_signature(signature)
    data = encode_call(sig, args or [])
    return f"Calldata for {sig.canonical}: 0x{data.hex()} (selector 0x{sig.selector.hex()})."
