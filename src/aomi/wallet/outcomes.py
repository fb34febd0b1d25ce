"""A settled wallet request as the result of its deferred tool call, which the agent reads when
the turn resumes. A sent transaction is looked up on chain: the agent reports the receipt, not
the wallet's word."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic_ai import ToolFailed
from web3.exceptions import TransactionNotFound

from aomi.chain.networks import W3, Chains, describe
from aomi.errors import AomiError
from aomi.wallet.requests import TRANSACTION, RequestStatus, WalletRequest

RECEIPT_POLL_SECONDS = 0.25


async def _receipt(chains: Chains, chain_id: int, tx_hash: str, wait: float) -> dict[str, Any] | None:
    """The transaction's receipt, waiting up to ``wait`` seconds for it to be mined; None if it is not."""

    async def read(w3: W3) -> dict[str, Any] | None:
        try:
            return dict(await w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        except TransactionNotFound:
            return None

    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        receipt = await chains.read(chain_id, read)
        if receipt is not None or loop.time() >= deadline:
            return receipt
        await asyncio.sleep(RECEIPT_POLL_SECONDS)


async def _transaction_outcome(req: WalletRequest, chains: Chains, receipt_timeout: float) -> Any:
    answer = req.answer or {}
    tx_hash = str(answer.get("txHash", ""))
    chain_id = int(req.payload["chain_id"])
    where = describe(chain_id)
    try:
        receipt = await _receipt(chains, chain_id, tx_hash, receipt_timeout)
    except AomiError as exc:
        return (
            f"The wallet reports transaction {tx_hash} as sent, but it could not be checked on {where}: "
            f"{exc.message}"
        )
    if receipt is None:
        return (
            f"The wallet reports transaction {tx_hash} as sent, but no receipt was found on {where} "
            f"within {receipt_timeout:g} s: it may still be pending."
        )
    block, gas = int(receipt["blockNumber"]), int(receipt["gasUsed"])
    sender = str(receipt.get("from", ""))
    if sender.lower() != str(req.payload["from"]).lower():
        note = f" Note: it was sent from {sender}, not from the connected wallet {req.payload['from']}."
    else:
        note = ""
    if int(receipt["status"]) != 1:
        return ToolFailed(f"Transaction {tx_hash} was mined in block {block} on {where} but reverted.{note}")
    return (
        f"Transaction {tx_hash} confirmed in block {block} on {where} (status success, gas used {gas}).{note}"
    )


async def outcome(req: WalletRequest, chains: Chains, receipt_timeout: float, wait_timeout: float) -> Any:
    """The deferred call's result: a text for the agent, or `ToolFailed` for a refusal or expiry."""
    kind = "transaction" if req.kind == TRANSACTION else "signature request"
    error = (req.answer or {}).get("error")
    because = f" ({error})" if error else ""
    if req.status is RequestStatus.SUCCESS:
        if req.kind == TRANSACTION:
            return await _transaction_outcome(req, chains, receipt_timeout)
        signature = (req.answer or {}).get("signature", "")
        what = req.payload["typed_data"].get("primaryType", "the data")
        return f"The user signed {what}. Signature: {signature}"
    if req.status is RequestStatus.FAILED:
        return ToolFailed(f"The user rejected the {kind} in their wallet{because}.")
    if req.status is RequestStatus.EXPIRED:
        return ToolFailed(
            f"The wallet did not answer the {kind} within {wait_timeout:g} s; the request expired."
        )
    if req.status is RequestStatus.SUPERSEDED:
        return ToolFailed(
            f"The user sent a new message instead of answering the {kind}; the request was withdrawn."
        )
    return ToolFailed(f"The {kind} was cancelled.")
