"""Wallet tools: the server never signs. A wallet tool checks its request and defers the call
(pydantic-ai `CallDeferred`): the turn parks, the client's wallet signs, and the answer posted to
`/api/system` becomes the tool's result when the turn resumes (see `aomi.wallet.requests`)."""

from __future__ import annotations

import json
import re
from typing import Any

from eth_account.messages import encode_typed_data
from pydantic_ai import CallDeferred, RunContext

from aomi.agent.deps import TurnDeps
from aomi.chain.addresses import native_symbol
from aomi.chain.units import to_base_units
from aomi.errors import InvalidInput
from aomi.tools.chain import address_of, chain_of, tool_errors
from aomi.wallet.requests import EIP712, TRANSACTION

DESCRIPTION_MAX = 300


def _wallet(ctx: RunContext[TurnDeps]) -> str:
    if ctx.deps.wallet_address is None:
        raise InvalidInput("no wallet is connected to this session: ask the user to connect one first")
    return ctx.deps.wallet_address


def _calldata(data: str | None) -> str:
    text = (data or "0x").strip()
    if not re.fullmatch(r"0x([0-9a-fA-F]{2})*", text):
        raise InvalidInput(
            f"data {text[:40]!r} is not hex calldata (0x followed by an even number of hex digits)"
        )
    return text.lower()


@tool_errors
async def send_transaction_to_wallet(
    ctx: RunContext[TurnDeps],
    to: str,
    value: str = "0",
    data: str | None = None,
    description: str = "",
    chain_id: int | None = None,
) -> str:
    """Hand a transaction to the user's wallet to sign and send; the result says whether it was
    confirmed on chain or rejected.

    Args:
        to: The recipient or contract: an 0x address or an ENS name.
        value: The amount of the chain's native coin in whole units, e.g. "0.1" (ETH); append
            " wei" for an exact amount in wei, e.g. "1000 wei".
        data: Calldata as hex (e.g. from encode_function_call); default: none (a plain transfer).
        description: One line telling the user what the transaction does.
        chain_id: The chain; default: the session's chain.
    """
    sender = _wallet(ctx)
    chain = chain_of(ctx, chain_id)
    target = await address_of(ctx, to, chain, "recipient")
    wei = to_base_units(value, 18, "value")
    calldata = _calldata(data)
    text = " ".join(description.split())[:DESCRIPTION_MAX] or (
        f"Send {value} {native_symbol(chain)} to {target}" if calldata == "0x" else f"Call {target}"
    )
    raise CallDeferred(
        metadata={
            "kind": TRANSACTION,
            "to": target,
            "value": str(wei),
            "data": calldata,
            "chain_id": chain,
            "from": sender,
            "description": text,
        }
    )


@tool_errors
async def request_typed_data_signature(
    ctx: RunContext[TurnDeps], typed_data: dict[str, Any] | str, description: str = ""
) -> str:
    """Ask the user's wallet to sign EIP-712 typed data; the result is the signature or a refusal.

    Args:
        typed_data: The full EIP-712 document: {types, primaryType, domain, message}.
        description: One line telling the user what the signature authorizes.
    """
    sender = _wallet(ctx)
    document = typed_data
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            raise InvalidInput("typed_data is not valid JSON") from None
    if not isinstance(document, dict) or not {"types", "primaryType", "domain", "message"} <= document.keys():
        raise InvalidInput("typed_data must be an object with types, primaryType, domain and message")
    try:
        encode_typed_data(full_message=document)
    except Exception as exc:  # eth-account raises many kinds for a malformed document
        raise InvalidInput(f"typed_data is not valid EIP-712: {exc}") from None
    domain = document.get("domain")
    chain = chain_of(ctx, None)
    if isinstance(domain, dict) and isinstance(domain.get("chainId"), int):
        chain = int(domain["chainId"])
    text = " ".join(description.split())[:DESCRIPTION_MAX] or f"Sign {document['primaryType']}"
    raise CallDeferred(
        metadata={
            "kind": EIP712,
            "typed_data": document,
            "chain_id": chain,
            "from": sender,
            "description": text,
        }
    )
