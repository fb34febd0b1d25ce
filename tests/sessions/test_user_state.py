from __future__ import annotations

import json

import pytest

from aomi.chain.addresses import chain_name, normalize_address, parse_chain_id
from aomi.errors import InvalidAddress, InvalidUserState
from aomi.sessions.user_state import bind_public_key, parse_user_state

VITALIK = "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045"


def test_addresses_are_checksummed_and_validated() -> None:
    assert normalize_address(VITALIK.lower()) == VITALIK
    assert normalize_address("0x" + VITALIK[2:].upper()) == VITALIK
    assert normalize_address(VITALIK) == VITALIK
    bad_checksum = "0xD8dA6BF26964aF9D7eEd9e03E53415D37aA96045"  # first letter's case flipped
    for bad in (bad_checksum, "0x123", "hello", 42, None, "0x" + "g" * 40):
        with pytest.raises(InvalidAddress):
            normalize_address(bad)


@pytest.mark.parametrize(("raw", "expected"), [(8453, 8453), ("8453", 8453), ("0x2105", 8453), (" 0X1 ", 1)])
def test_chain_id_forms(raw: object, expected: int) -> None:
    assert parse_chain_id(raw) == expected


@pytest.mark.parametrize("raw", [True, "base", "0xzz", 0, -1, 1.5, 2**64, None])
def test_bad_chain_ids(raw: object) -> None:
    with pytest.raises(InvalidUserState):
        parse_chain_id(raw)


def test_chain_names() -> None:
    assert chain_name(8453) == "Base"
    assert chain_name(31337) == "Anvil (local)"
    assert chain_name(999) == "chain 999"
    assert chain_name(None) is None


EXPECTED = {"address": VITALIK, "chain_id": 8453, "is_connected": True, "ens_name": "vitalik.eth"}


@pytest.mark.parametrize(
    ("raw", "echo"),
    [
        (
            {"address": VITALIK.lower(), "chainId": 8453, "isConnected": True, "ensName": "vitalik.eth"},
            {"address": VITALIK.lower(), "chain_id": 8453, "is_connected": True, "ens_name": "vitalik.eth"},
        ),
        (
            {"address": VITALIK, "chain_id": "0x2105", "is_connected": True, "ens_name": "vitalik.eth"},
            {"address": VITALIK, "chain_id": "0x2105", "is_connected": True, "ens_name": "vitalik.eth"},
        ),
        (
            {
                "connection": {"is_connected": True},
                "evm": {"address": VITALIK, "chain_id": "8453", "ens_name": "vitalik.eth"},
            },
            {"address": VITALIK, "chain_id": "8453", "is_connected": True, "ens_name": "vitalik.eth"},
        ),
        (
            json.dumps({"address": VITALIK.upper()[:2].lower() + VITALIK[2:].upper(), "chainId": 8453}),
            {"address": "0x" + VITALIK[2:].upper(), "chain_id": 8453, "is_connected": True, "ens_name": None},
        ),
    ],
)
def test_three_shapes_echo_the_fields_as_sent_and_bind_checksummed(raw: object, echo: object) -> None:
    wallet = parse_user_state(raw)  # type: ignore[arg-type]
    assert wallet is not None
    assert wallet.echo == echo
    assert (wallet.address, wallet.chain_id) == (VITALIK, 8453)


def test_server_owned_fields_are_dropped_ext_kept_and_no_address_is_none() -> None:
    wallet = parse_user_state(
        {"address": VITALIK, "pending_txs": {"1": {}}, "pending_eip712s": {"2": {}}, "ext": {"a": 1}}
    )
    assert wallet is not None
    assert wallet.echo == {
        "address": VITALIK,
        "chain_id": None,
        "is_connected": True,
        "ens_name": None,
        "ext": {"a": 1},
    }
    assert wallet.chain_id is None
    assert parse_user_state({"chainId": 1}) is None
    assert parse_user_state({"address": ""}) is None


@pytest.mark.parametrize(
    "raw",
    [
        "{not json",
        "[1, 2]",
        '"text"',
        {"evm": 5, "connection": {}},
        {"address": VITALIK, "isConnected": "yes"},
        {"address": VITALIK, "ens_name": 5},
        {"address": VITALIK, "chainId": "base"},
    ],
)
def test_invalid_user_state(raw: object) -> None:
    with pytest.raises(InvalidUserState):
        parse_user_state(raw)  # type: ignore[arg-type]


def test_invalid_address_in_user_state() -> None:
    with pytest.raises(InvalidAddress):
        parse_user_state({"address": "0x1234"})


def test_bind_public_key() -> None:
    bound = bind_public_key(None, VITALIK.lower())
    fresh = {"is_connected": True, "ens_name": None}
    assert bound.echo == {"address": VITALIK.lower(), "chain_id": None, **fresh}
    assert bound.address == VITALIK
    current = parse_user_state({"address": VITALIK, "chainId": "0x2105", "ensName": "vitalik.eth"})
    assert current is not None
    assert bind_public_key(current, VITALIK.lower()) is current
    other = bind_public_key(current, "0x" + "11" * 20)
    assert other.echo == {"address": "0x" + "11" * 20, "chain_id": "0x2105", **fresh}
    assert (other.address, other.chain_id) == ("0x" + "11" * 20, 8453)
