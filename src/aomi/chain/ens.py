"""ENS: a name to its address and an address to its primary name, through the chain's registry.

Names are normalized (ENSIP-15) and hashed here; only the registry's `resolver(node)` and the
resolver's `addr(node)` / `name(node)` are called, so any registry with the standard interface
works (the canonical one, or a local one in tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ens.exceptions import InvalidName
from ens.utils import normal_name_to_hash, normalize_name
from web3.exceptions import BadFunctionCallOutput, ContractLogicError

from aomi.chain.abi import decode_result, encode_call, parse_signature
from aomi.chain.addresses import normalize_address
from aomi.chain.networks import W3, Chains, describe
from aomi.errors import InvalidInput, UnknownChain

# The ENS registry's address is the same on every chain ENS is deployed to by its developers.
CANONICAL_REGISTRY = "0x00000000000C2E074eC69A0dFb2997BA6C7d2e1e"
BUILTIN_REGISTRIES: dict[int, str] = {1: CANONICAL_REGISTRY, 11155111: CANONICAL_REGISTRY}
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


@dataclass(frozen=True)
class ReverseRecord:
    name: str | None
    verified: bool
    """The name resolves back to the address (a reverse record alone can claim any name)."""


def looks_like_name(text: str) -> bool:
    return "." in text and not text.strip().lower().startswith("0x")


def normalized(name: str) -> str:
    try:
        return str(normalize_name(name.strip()))
    except (InvalidName, ValueError) as exc:
        raise InvalidInput(f"{name[:80]!r} is not a valid ENS name: {exc}") from None


class Ens:
    def __init__(self, chains: Chains, registries: Mapping[int, str]) -> None:
        self.chains = chains
        self.registries = {**BUILTIN_REGISTRIES, **registries}

    def registry(self, chain_id: int) -> str:
        address = self.registries.get(chain_id)
        if address is None:
            raise UnknownChain(
                f"ENS is not available on {describe(chain_id)}: no registry is configured there "
                "(AOMI_ENS_REGISTRIES)"
            )
        return address

    async def _address_call(self, w3: W3, to: str, signature: str, node: bytes) -> str:
        data = encode_call(parse_signature(signature), ["0x" + node.hex()])
        raw = await w3.eth.call({"to": to, "data": "0x" + data.hex()})  # type: ignore[typeddict-item]
        (address,) = decode_result(["address"], bytes(raw))
        return str(address)

    async def _resolver(self, w3: W3, chain_id: int, node: bytes) -> str | None:
        resolver = await self._address_call(w3, self.registry(chain_id), "resolver(bytes32)", node)
        return None if resolver == ZERO_ADDRESS else resolver

    async def resolve(self, name: str, chain_id: int) -> str | None:
        """The address a name points to; None when it has none."""
        node = bytes(normal_name_to_hash(normalized(name)))

        async def read(w3: W3) -> str | None:
            try:
                resolver = await self._resolver(w3, chain_id, node)
                if resolver is None:
                    return None
                address = await self._address_call(w3, resolver, "addr(bytes32)", node)
            except (ContractLogicError, BadFunctionCallOutput, InvalidInput):
                return None
            return None if address == ZERO_ADDRESS else address

        return await self.chains.read(chain_id, read)

    async def reverse(self, address: str, chain_id: int) -> ReverseRecord:
        """The primary name of an address, checked against the name's own forward record."""
        checksummed = normalize_address(address)
        node = bytes(normal_name_to_hash(f"{checksummed[2:].lower()}.addr.reverse"))

        async def read(w3: W3) -> str | None:
            try:
                resolver = await self._resolver(w3, chain_id, node)
                if resolver is None:
                    return None
                data = encode_call(parse_signature("name(bytes32)"), ["0x" + node.hex()])
                raw = await w3.eth.call({"to": resolver, "data": "0x" + data.hex()})  # type: ignore[typeddict-item]
                (name,) = decode_result(["string"], bytes(raw))
            except (ContractLogicError, BadFunctionCallOutput, InvalidInput):
                return None
            return str(name) or None

        name = await self.chains.read(chain_id, read)
        if name is None:
            return ReverseRecord(None, False)
        try:
            forward = await self.resolve(name, chain_id)
        except InvalidInput:
            return ReverseRecord(name, False)
        return ReverseRecord(name, forward == checksummed)
