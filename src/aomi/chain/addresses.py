"""EVM address and chain-id helpers, and the chain names the server knows."""

from __future__ import annotations

import functools

from eth_utils import is_checksum_address, is_hex_address, to_checksum_address

from aomi.errors import InvalidAddress, InvalidUserState

CHAIN_NAMES: dict[int, str] = {
    1: "Ethereum",
    10: "Optimism",
    56: "BNB Chain",
    137: "Polygon",
    8453: "Base",
    42161: "Arbitrum One",
    11155111: "Sepolia",
    31337: "Anvil (local)",
}
# The native currency's symbol where it is not ETH.
NATIVE_SYMBOLS: dict[int, str] = {56: "BNB", 137: "POL"}


def native_symbol(chain_id: int) -> str:
    return NATIVE_SYMBOLS.get(chain_id, "ETH")


def normalize_address(value: object) -> str:
    """Validate an EVM address and return it EIP-55 checksummed.

    All-lowercase or all-uppercase hex is accepted as is; mixed case must carry a valid checksum.
    """
    if not isinstance(value, str) or not value.startswith("0x") or not is_hex_address(value):
        raise InvalidAddress(
            f"not an EVM address: {str(value)[:64]!r} (expected 0x followed by 40 hex digits)"
        )
    return _checksummed(value)


@functools.lru_cache(maxsize=4096)
def _checksummed(value: str) -> str:
    # Each check hashes with keccak; a client sends the same address with every state poll.
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise InvalidAddress(f"address {value!r} has an invalid EIP-55 checksum")
    return str(to_checksum_address(value))


def parse_chain_id(value: object) -> int:
    """A chain id given as a number, a decimal string or a hex string (``0x2105``)."""
    if isinstance(value, bool):
        raise InvalidUserState("chain_id must be a number, a decimal string or a hex string")
    if isinstance(value, float) and value.is_integer():  # JSON `8453.0` is the integer 8453
        value = int(value)
    if isinstance(value, int):
        chain_id = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            chain_id = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
        except ValueError:
            raise InvalidUserState(f"chain_id {value[:32]!r} is not a number") from None
    else:
        raise InvalidUserState("chain_id must be a number, a decimal string or a hex string")
    if not 0 < chain_id < 2**63:
        raise InvalidUserState(f"chain_id {chain_id} is out of range")
    return chain_id


def chain_name(chain_id: int | None) -> str | None:
    if chain_id is None:
        return None
    return CHAIN_NAMES.get(chain_id, f"chain {chain_id}")
