"""Batch simulation (`POST /api/simulate`, the client's `simulateBatch`): the transactions run in
order on a fork of the chain, each seeing the state the previous ones left; the real chain is
only read. The answer has the shape of the client's `AomiSimulateResponse`."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError

from aomi.chain.abi import coerce
from aomi.chain.addresses import chain_name
from aomi.chain.forks import Fork, ForkPool, ForkRpcError
from aomi.chain.units import UINT256_MAX, from_base_units
from aomi.errors import InvalidInput, InvalidTransaction

ERROR_SELECTOR = "08c379a0"  # Error(string)
PANIC_SELECTOR = "4e487b71"  # Panic(uint256)
RECEIPT_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class SimTransaction:
    to: str
    value_wei: int
    data: str
    label: str


def _wei(value: object, where: str) -> int:
    """A transaction value in wei: an integer, a decimal string or a hex string."""
    text = value.strip().lower() if isinstance(value, str) else None
    if value is None or text == "":
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        wei = value
    elif text is not None and text.isdigit():
        wei = int(text)
    elif text is not None and re.fullmatch(r"0x[0-9a-f]+", text):
        wei = int(text, 16)
    else:
        raise InvalidTransaction(f"{where}.value must be wei: an integer, a decimal or a 0x hex string")
    if not 0 <= wei <= UINT256_MAX:
        raise InvalidTransaction(f"{where}.value is out of range")
    return wei


def parse_transaction(raw: object, index: int) -> SimTransaction:
    where = f"transactions[{index}]"
    if not isinstance(raw, dict):
        raise InvalidTransaction(f"{where} must be an object with to, value, data")
    try:
        to = coerce("address", raw.get("to"), f"{where}.to")
    except InvalidInput as exc:
        raise InvalidTransaction(exc.message) from None
    data = raw.get("data") or "0x"
    if not isinstance(data, str) or not re.fullmatch(r"0x([0-9a-fA-F]{2})*", data.strip()):
        raise InvalidTransaction(
            f"{where}.data is not hex calldata (0x followed by an even number of hex digits)"
        )
    label = raw.get("label")
    if label is not None and not isinstance(label, str):
        raise InvalidTransaction(f"{where}.label must be a string")
    return SimTransaction(
        str(to), _wei(raw.get("value"), where), data.strip().lower(), label or f"Transaction {index + 1}"
    )


def revert_reason(message: str, data: object) -> str:
    """A revert's reason: `Error(string)` and `Panic(uint256)` decoded, else the node's words."""
    hex_data = data if isinstance(data, str) else ""
    body = hex_data[2:] if hex_data.startswith("0x") else hex_data
    try:
        if body.startswith(ERROR_SELECTOR):
            (reason,) = decode(["string"], bytes.fromhex(body[8:]))
            return str(reason)
        if body.startswith(PANIC_SELECTOR):
            (code,) = decode(["uint256"], bytes.fromhex(body[8:]))
            return f"panic 0x{int(code):02x}"
    except (DecodingError, ValueError):
        pass
    text = message.removeprefix("execution reverted: ").removeprefix("execution reverted")
    if body and not text:
        return f"custom error 0x{body[:8]}"
    return text or "reverted without a reason"


async def _receipt(fork: Fork, tx_hash: str) -> dict[str, Any] | None:
    """The fork mines each transaction as it arrives, a moment after answering with its hash."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECEIPT_WAIT_SECONDS
    while True:
        receipt: dict[str, Any] | None = await fork.rpc("eth_getTransactionReceipt", [tx_hash])
        if receipt is not None or loop.time() > deadline:
            return receipt
        await asyncio.sleep(0.005)


async def _step(fork: Fork, sender: str, tx: SimTransaction, number: int) -> dict[str, Any]:
    call = {"from": sender, "to": tx.to, "value": hex(tx.value_wei), "data": tx.data, "gasPrice": "0x0"}
    shown = {
        "to": tx.to,
        "value_wei": str(tx.value_wei),
        "value_eth": from_base_units(tx.value_wei, 18),
        "data": tx.data,
    }
    step: dict[str, Any] = {"step": number, "label": tx.label, "tx": shown}
    try:
        result = await fork.rpc("eth_call", [call, "latest"])
        tx_hash = await fork.rpc("eth_sendTransaction", [call])
        receipt = await _receipt(fork, tx_hash)
    except ForkRpcError as exc:
        return {
            **step,
            "success": False,
            "result": None,
            "revert_reason": revert_reason(exc.message, exc.data),
            "gas_used": None,
        }
    success = receipt is not None and int(receipt.get("status", "0x0"), 16) == 1
    return {
        **step,
        "success": success,
        "result": result,
        "revert_reason": None if success else ("reverted when mined" if receipt else "not mined in time"),
        "gas_used": int(receipt["gasUsed"], 16) if receipt else None,
    }


async def simulate(
    forks: ForkPool, chain_id: int, sender: str, transactions: list[SimTransaction]
) -> dict[str, Any]:
    """Run the batch on the chain's fork; `{"result": {...}}` as `AomiSimulateResponse` has it."""
    async with forks.fork(chain_id) as fork:
        steps = [await _step(fork, sender, tx, i) for i, tx in enumerate(transactions, start=1)]
    return {
        "result": {
            "batch_success": all(s["success"] for s in steps),
            "stateful": True,
            "from": sender,
            "network": chain_name(chain_id),
            "total_gas": sum(s["gas_used"] or 0 for s in steps),
            "steps": steps,
        }
    }
