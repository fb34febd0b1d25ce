"""The wallet state a client sends as ``user_state``: three accepted shapes, one echoed shape.

A session keeps two views of it (SPEC 2.3):
- the **echo**: the client's last fields as it sent them, flat snake_case
  ``{address, chain_id, is_connected, ens_name, ext?}``, the address in the client's letter case
  and ``chain_id`` in its format (``"0x2105"`` stays ``"0x2105"``). Snapshots return it, because
  the public client compares it with what it sent;
- the **binding**: the address EIP-55 checksummed and the chain id as a number, which tools,
  the agent's context and the wallet's thread list use.

``pending_txs`` and ``pending_eip712s`` are the server's own: never taken from what a client sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aomi.chain.addresses import normalize_address, parse_chain_id
from aomi.errors import InvalidAddress, InvalidUserState
from aomi.validation import check_json, parse_json

UserState = dict[str, Any]
# Keys a client may name, each with its camelCase alias.
_FIELDS = {"address": "address", "chain_id": "chainId", "is_connected": "isConnected", "ens_name": "ensName"}


@dataclass(frozen=True)
class Wallet:
    """A session's wallet: the client's fields as sent (``echo``) and the checksummed binding."""

    echo: UserState
    address: str
    chain_id: int | None


def _check_present(source: dict[str, Any], where: str) -> None:
    """Every wallet field present, in either spelling, must be valid, even one another overrides
    (snake_case wins over camelCase, ``evm``/``connection`` over the flat fields)."""
    for snake, camel in _FIELDS.items():
        for key in {snake, camel}:
            value = source.get(key)
            if value is None or value == "":
                continue
            if snake == "address":
                normalize_address(value)
            elif snake == "chain_id":
                parse_chain_id(value)
            elif snake == "is_connected" and not isinstance(value, bool):
                raise InvalidUserState(f"{where}{key} must be true or false")
            elif snake == "ens_name" and not isinstance(value, str):
                raise InvalidUserState(f"{where}{key} must be a string")


def _pick(source: dict[str, Any], name: str) -> Any:
    value = source.get(name)
    return source.get(_FIELDS[name]) if value is None else value


def _flatten(raw: dict[str, Any]) -> dict[str, Any]:
    """The camelCase, snake_case and nested shapes as one flat snake_case dict (None: not sent)."""
    evm, connection = raw.get("evm"), raw.get("connection")
    if evm is None and connection is None:
        return {name: _pick(raw, name) for name in _FIELDS}
    if not isinstance({} if evm is None else evm, dict) or not isinstance(
        {} if connection is None else connection, dict
    ):
        raise InvalidUserState("user_state.evm and user_state.connection must be objects")
    evm, connection = evm or {}, connection or {}
    _check_present(evm, "user_state.evm.")
    _check_present(connection, "user_state.connection.")
    return {
        "address": _pick(evm, "address"),
        "chain_id": _pick(evm, "chain_id"),
        "is_connected": _pick(connection, "is_connected"),
        "ens_name": _pick(evm, "ens_name"),
    }


def parse_user_state(raw: str | dict[str, Any]) -> Wallet | None:
    """Validate a client's user_state (JSON text or object); None when it names no address."""
    if isinstance(raw, str):
        raw = parse_json(raw, "user_state", InvalidUserState)
    else:
        check_json(raw, "user_state")
    if not isinstance(raw, dict):
        raise InvalidUserState("user_state must be a JSON object")
    _check_present(raw, "user_state.")
    flat = _flatten(raw)
    address = flat["address"]
    if address in (None, ""):
        return None
    chain = flat["chain_id"]
    if chain == "":
        chain = None
    connected, ens = flat["is_connected"], flat["ens_name"]
    echo: UserState = {
        "address": address,
        "chain_id": chain,
        "is_connected": True if connected is None else connected,
        "ens_name": ens,
    }
    if "ext" in raw:
        echo["ext"] = raw["ext"]
    return Wallet(
        echo=echo,
        address=normalize_address(address),
        chain_id=None if chain is None else parse_chain_id(chain),
    )


@dataclass(frozen=True)
class WalletInput:
    """A request's wallet fields, validated before anything is stored."""

    wallet: Wallet | None = None
    public_key: str | None = None

    def apply(self, current: Wallet | None) -> Wallet | None:
        """The session's new wallet: a sent user_state replaces it, ``public_key`` binds an address."""
        wallet = self.wallet or current
        if self.public_key is not None:
            wallet = bind_public_key(wallet, self.public_key)
        return wallet


def parse_wallet(user_state: object, public_key: object) -> WalletInput:
    """Validate ``user_state`` (text or object) and ``public_key``; 400-kind errors on bad input."""
    if user_state is not None and not isinstance(user_state, str | dict):
        raise InvalidUserState("user_state must be a JSON object")
    if public_key is not None and not isinstance(public_key, str):
        raise InvalidAddress("public_key must be an address string")
    if public_key:
        normalize_address(public_key)
    return WalletInput(
        wallet=parse_user_state(user_state) if user_state else None,
        public_key=public_key or None,
    )


def bind_public_key(current: Wallet | None, public_key: str) -> Wallet:
    """Bind a wallet from ``public_key``, keeping the current chain when the address is unchanged."""
    address = normalize_address(public_key)
    if current is not None and current.address == address:
        return current
    echo: UserState = {
        "address": public_key,
        "chain_id": current.echo.get("chain_id") if current else None,
        "is_connected": True,
        "ens_name": None,
    }
    return Wallet(echo=echo, address=address, chain_id=current.chain_id if current else None)
