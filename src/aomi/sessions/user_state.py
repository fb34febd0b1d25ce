"""The wallet state a client sends as ``user_state``: three accepted shapes, one stored shape.

Stored and returned as flat snake_case ``{address, chain_id, is_connected, ens_name, ...}``;
``None`` when no wallet address is known.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aomi.chain.addresses import normalize_address, parse_chain_id
from aomi.errors import InvalidAddress, InvalidUserState

UserState = dict[str, Any]
_OPTIONAL_PASSTHROUGH = ("pending_txs", "pending_eip712s", "ext")


def _flatten(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring the camelCase and nested shapes to flat snake_case keys."""
    if isinstance(raw.get("evm"), dict) or isinstance(raw.get("connection"), dict):
        evm = raw.get("evm") or {}
        connection = raw.get("connection") or {}
        if not isinstance(evm, dict) or not isinstance(connection, dict):
            raise InvalidUserState("user_state.evm and user_state.connection must be objects")
        flat: dict[str, Any] = {
            "address": evm.get("address"),
            "chain_id": evm.get("chain_id", evm.get("chainId")),
            "is_connected": connection.get("is_connected", connection.get("isConnected")),
            "ens_name": evm.get("ens_name", evm.get("ensName")),
        }
    else:
        flat = {
            "address": raw.get("address"),
            "chain_id": raw.get("chain_id", raw.get("chainId")),
            "is_connected": raw.get("is_connected", raw.get("isConnected")),
            "ens_name": raw.get("ens_name", raw.get("ensName")),
        }
    for key in _OPTIONAL_PASSTHROUGH:
        if key in raw:
            flat[key] = raw[key]
    return flat


def parse_user_state(raw: str | dict[str, Any]) -> UserState | None:
    """Validate a client's user_state (JSON text or object); None when it names no address."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise InvalidUserState("user_state is not valid JSON") from None
    if not isinstance(raw, dict):
        raise InvalidUserState("user_state must be a JSON object")
    flat = _flatten(raw)
    if flat["address"] in (None, ""):
        return None
    state: UserState = {
        "address": normalize_address(flat["address"]),
        "chain_id": None if flat["chain_id"] in (None, "") else parse_chain_id(flat["chain_id"]),
        "is_connected": bool(flat["is_connected"]) if flat["is_connected"] is not None else True,
        "ens_name": flat["ens_name"] if isinstance(flat["ens_name"], str) else None,
    }
    for key in _OPTIONAL_PASSTHROUGH:
        if key in flat:
            state[key] = flat[key]
    return state


@dataclass(frozen=True)
class WalletInput:
    """A request's wallet fields, validated before anything is stored."""

    state: UserState | None = None
    address: str | None = None

    def apply(self, current: UserState | None) -> UserState | None:
        """The session's new user_state: a sent state replaces it, ``public_key`` binds an address."""
        state = self.state or current
        if self.address is not None:
            state = bind_public_key(state, self.address)
        return state


def parse_wallet(user_state: object, public_key: object) -> WalletInput:
    """Validate ``user_state`` (text or object) and ``public_key``; 400-kind errors on bad input."""
    if user_state is not None and not isinstance(user_state, str | dict):
        raise InvalidUserState("user_state must be a JSON object")
    if public_key is not None and not isinstance(public_key, str):
        raise InvalidAddress("public_key must be an address string")
    return WalletInput(
        state=parse_user_state(user_state) if user_state else None,
        address=normalize_address(public_key) if public_key else None,
    )


def bind_public_key(state: UserState | None, public_key: str) -> UserState:
    """Bind a wallet from ``public_key``, keeping the current chain when the address is unchanged."""
    address = normalize_address(public_key)
    if state is not None and state["address"] == address:
        return state
    return {
        "address": address,
        "chain_id": state["chain_id"] if state else None,
        "is_connected": True,
        "ens_name": None,
    }
