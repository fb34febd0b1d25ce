"""Wallet requests (SPEC 5 step 4): what a parked turn waits for, the shapes the public client
reads (`InlineCall` payloads and `user_state.pending_txs` / `pending_eip712s`), and the wallet's
answers as the client posts them to `/api/system`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aomi.errors import InvalidInput
from aomi.timeutil import now_ms

TRANSACTION, EIP712 = "transaction", "eip712"
TX_REQUEST, EIP712_REQUEST = "wallet_tx_request", "wallet_eip712_request"
# The answers' `type` as clients send them (`wallet_tx_response` is the older name).
TX_ANSWERS = frozenset({"wallet:tx_complete", "wallet_tx_response"})
EIP712_ANSWERS = frozenset({"wallet_eip712_response"})


class RequestStatus(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    """The wallet sent the transaction (or signed)."""
    FAILED = "failed"
    """The user rejected it in the wallet, or the wallet failed."""
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    """The user sent a new chat message instead of answering."""
    CANCELLED = "cancelled"
    """The turn was interrupted while it waited."""


@dataclass
class WalletRequest:
    """One pending hand-off: a deferred tool call and the call data the wallet needs."""

    id: int
    """Positive, per session: the client's `tx_ids` / `pending_eip712_id`."""
    kind: str
    tool_call_id: str
    payload: dict[str, Any]
    """What the tool prepared: to, value (wei), data, chain_id, from, description; or typed_data."""
    message_seq: int | None
    key_id: str | None
    """The App key that started the turn: the resumed part is charged to it."""
    expires_ms: int
    created_ms: int = field(default_factory=now_ms)
    status: RequestStatus = RequestStatus.PENDING
    answer: dict[str, Any] | None = None

    @property
    def description(self) -> str:
        return str(self.payload.get("description") or "")

    def inline_call(self) -> dict[str, Any]:
        """The `InlineCall` event payload: `{type, payload}` as the client's normalizers read it."""
        if self.kind == TRANSACTION:
            return {"type": TX_REQUEST, "payload": {"tx_ids": [self.id], **self._tx_fields()}}
        return {
            "type": EIP712_REQUEST,
            "payload": {
                "pending_eip712_id": self.id,
                "typed_data": self.payload["typed_data"],
                "description": self.description,
                "chain_id": self.payload.get("chain_id"),
                "from": self.payload.get("from"),
            },
        }

    def _tx_fields(self) -> dict[str, Any]:
        p = self.payload
        return {
            "to": p["to"],
            "value": p["value"],
            "data": p["data"],
            "chain_id": p["chain_id"],
            "from": p["from"],
            "description": self.description,
        }

    def pending_entry(self) -> dict[str, Any]:
        """Its entry under `user_state.pending_txs` (or `pending_eip712s`), keyed by its id."""
        if self.kind == TRANSACTION:
            kind = "native_transfer" if self.payload["data"] == "0x" else "contract_call"
            return {**self._tx_fields(), "label": self.description, "kind": kind}
        return {
            "typed_data": self.payload["typed_data"],
            "description": self.description,
            "chain_id": self.payload.get("chain_id"),
            "from": self.payload.get("from"),
        }

    def waiting_text(self) -> str:
        what = "sign and send the transaction" if self.kind == TRANSACTION else "sign"
        return f"Waiting for the wallet to {what} (request {self.id}): {self.description}"


def pending_state(requests: list[WalletRequest]) -> dict[str, Any]:
    """The server-owned `user_state` fields of the requests still waiting (empty when none)."""
    txs = {str(r.id): r.pending_entry() for r in requests if r.kind == TRANSACTION and r.status == "pending"}
    sigs = {str(r.id): r.pending_entry() for r in requests if r.kind == EIP712 and r.status == "pending"}
    state: dict[str, Any] = {}
    if txs:
        state["pending_txs"] = txs
    if sigs:
        state["pending_eip712s"] = sigs
    return state


@dataclass(frozen=True)
class WalletAnswer:
    """A wallet callback as posted to `/api/system`, checked."""

    kind: str
    status: RequestStatus
    ids: tuple[int, ...]
    """The requests it answers; empty: the oldest pending one of its kind."""
    detail: dict[str, Any]
    """What is kept of it: txHash or signature, error."""


_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_SIGNATURE = re.compile(r"0x([0-9a-fA-F]{2}){64,}")


def _ids(payload: dict[str, Any], *names: str) -> tuple[int, ...]:
    for name in names:
        raw = payload.get(name)
        if raw is None:
            continue
        values = raw if isinstance(raw, list) else [raw]
        ids = []
        for value in values:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | str)
                or not str(value).strip().isdigit()
            ):
                raise InvalidInput(f"{name} must hold positive integer request ids")
            if int(value) <= 0:
                raise InvalidInput(f"{name} must hold positive integer request ids")
            ids.append(int(value))
        return tuple(dict.fromkeys(ids))
    return ()


def _error(payload: dict[str, Any]) -> dict[str, Any]:
    error = payload.get("error")
    return {"error": str(error)[:300]} if isinstance(error, str) and error.strip() else {}


def parse_wallet_answer(message: object) -> WalletAnswer | None:
    """The wallet answer in a system message's JSON, or None when it is not one.
    InvalidInput when it is one but malformed (a success without a hash, say)."""
    if not isinstance(message, dict):
        return None
    kind_name = message.get("type")
    payload = message.get("payload")
    if kind_name not in TX_ANSWERS and kind_name not in EIP712_ANSWERS:
        return None
    if not isinstance(payload, dict):
        raise InvalidInput(f"{kind_name}: payload must be an object")
    raw_status = payload.get("status")
    if raw_status not in ("success", "failed", "rejected", "error"):
        raise InvalidInput(f"{kind_name}: payload.status must be 'success' or 'failed'")
    status = RequestStatus.SUCCESS if raw_status == "success" else RequestStatus.FAILED
    detail = _error(payload)
    if kind_name in TX_ANSWERS:
        ids = _ids(payload, "pending_tx_ids", "tx_ids", "txIds", "tx_id")
        if status is RequestStatus.SUCCESS:
            tx_hash = payload.get("txHash", payload.get("tx_hash", payload.get("hash")))
            if not isinstance(tx_hash, str) or not _HASH.fullmatch(tx_hash.strip()):
                raise InvalidInput(f"{kind_name}: a successful answer needs txHash, 0x and 64 hex digits")
            detail["txHash"] = tx_hash.strip().lower()
        return WalletAnswer(TRANSACTION, status, ids, detail)
    ids = _ids(payload, "pending_eip712_id", "eip712Id", "pendingEip712Id", "eip712_id")
    if status is RequestStatus.SUCCESS:
        signature = payload.get("signature")
        if not isinstance(signature, str) or not _SIGNATURE.fullmatch(signature.strip()):
            raise InvalidInput(f"{kind_name}: a successful answer needs a hex signature (0x…, 65 bytes)")
        detail["signature"] = signature.strip()
    return WalletAnswer(EIP712, status, ids, detail)


def answered(open_requests: list[WalletRequest], answer: WalletAnswer) -> list[WalletRequest]:
    """The pending requests an answer settles: the ids it names, else the oldest of its kind."""
    pending = [r for r in open_requests if r.kind == answer.kind and r.status == "pending"]
    if answer.ids:
        return [r for r in pending if r.id in answer.ids]
    return pending[:1]
