"""Parsing without a chain: signatures, amounts, settings, revert data, wallet answers."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode

from aomi.chain.abi import canonical_type, coerce, decode_result, encode_call, parse_signature
from aomi.chain.networks import parse_chain_addresses, parse_rpc_urls
from aomi.chain.simulate import parse_transaction, revert_reason
from aomi.chain.tokens import TokenBook, parse_token_setting
from aomi.chain.units import describe_amount, from_base_units, to_base_units
from aomi.errors import ChainConfigError, InvalidInput, InvalidTransaction
from aomi.wallet.requests import (
    EIP712,
    TRANSACTION,
    RequestStatus,
    WalletRequest,
    answered,
    parse_wallet_answer,
)

ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.mark.parametrize(
    ("text", "canonical", "outputs"),
    [
        ("balanceOf(address)", "balanceOf(address)", None),
        ("balanceOf(address)(uint256)", "balanceOf(address)", ("uint256",)),
        (
            "function balanceOf(address owner) external view returns (uint)",
            "balanceOf(address)",
            ("uint256",),
        ),
        ("swap((address,uint24)[] calldata path, int amount)", "swap((address,uint24)[],int256)", None),
        ("getReserves()(uint112,uint112,uint32)", "getReserves()", ("uint112", "uint112", "uint32")),
        ("f(bytes32[2], string memory s, bool)", "f(bytes32[2],string,bool)", None),
    ],
)
def test_signatures_parse(text: str, canonical: str, outputs: tuple[str, ...] | None) -> None:
    sig = parse_signature(text)
    assert (sig.canonical, sig.outputs) == (canonical, outputs)


@pytest.mark.parametrize(
    "text",
    [
        "balanceOf",
        "1bad(uint256)",
        "f(uint256) returns uint256",
        "f(uint256) banana",
        "f(uint256)) ",
        "f(bytes33)",
        "f(tuple(uint256)x)",
    ],
)
def test_bad_signatures_say_why(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_signature(text)


def test_values_are_coerced_per_type() -> None:
    assert coerce("uint256", "0x10") == 16
    assert coerce("int8", "-128") == -128
    assert coerce("bool", "TRUE") is True
    assert coerce("bytes2", "0xabcd") == b"\xab\xcd"
    assert coerce("address[]", [ADDRESS.lower()]) == [ADDRESS]
    assert coerce("(uint8,string)", [1, "a"]) == (1, "a")
    for abi_type, value in [
        ("uint8", 256),
        ("uint8", True),
        ("bool", 1),
        ("string", 5),
        ("bytes2", "0xab"),
        ("uint256[2]", [1]),
        ("address", "nope"),
        ("(uint8,bool)", [1]),
        ("uint8[]", 3),
        ("uint256", "1.5"),
    ]:
        with pytest.raises(InvalidInput):
            coerce(abi_type, value)
    assert canonical_type("uint") == "uint256"


def test_encode_and_decode_round_trip() -> None:
    sig = parse_signature("transfer(address,uint256)(bool)")
    data = encode_call(sig, [ADDRESS, 5])
    assert data[:4].hex() == "a9059cbb"
    assert decode_result(["address", "bytes"], encode(["address", "bytes"], [ADDRESS, b"\x01"])) == [
        ADDRESS,
        "0x01",
    ]
    with pytest.raises(InvalidInput, match="does not decode"):
        decode_result(["uint256"], b"\x01")


def test_amounts_are_exact_both_ways() -> None:
    assert to_base_units("0.1", 18) == 10**17
    assert to_base_units("1,000.5", 6) == 1_000_500_000
    assert to_base_units("42 wei", 18) == 42
    assert to_base_units(2, 0) == 2
    assert from_base_units(10**17, 18) == "0.1"
    assert from_base_units(-15, 1) == "-1.5"
    assert from_base_units(7, 0) == "7"
    assert describe_amount(1_500_000, 6, "USDC") == "1.5 USDC (1500000 base units)"
    for bad in ("-1", "abc", "nan", True, str(2**256) + " wei"):
        with pytest.raises(InvalidInput):
            to_base_units(bad, 18)


def test_settings_parse_with_clear_errors() -> None:
    assert parse_rpc_urls(" 1=https://a.example , 8453=http://b:8545 ") == {
        1: "https://a.example",
        8453: "http://b:8545",
    }
    assert parse_chain_addresses(f"31337={ADDRESS.lower()}", "AOMI_ENS_REGISTRIES") == {31337: ADDRESS}
    assert parse_token_setting(f"31337:tusd={ADDRESS}") == {31337: {"TUSD": ADDRESS}}
    for call in (
        lambda: parse_rpc_urls("1"),
        lambda: parse_rpc_urls("x=https://a"),
        lambda: parse_rpc_urls("0=https://a"),
        lambda: parse_rpc_urls("1=ftp://a"),
        lambda: parse_chain_addresses("1=0x12", "AOMI_ENS_REGISTRIES"),
        lambda: parse_token_setting("USDC=0x12"),
        lambda: parse_token_setting("1:USDC=0x12"),
    ):
        with pytest.raises(ChainConfigError):
            call()
    book = TokenBook({8453: {"TUSD": ADDRESS}})
    assert book.address_of("usdc", 1) == "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
    assert book.address_of("TUSD", 8453) == ADDRESS
    with pytest.raises(InvalidInput, match="known here: TUSD, USDC, WETH"):
        book.address_of("DOGE", 8453)


def test_revert_data_is_decoded() -> None:
    error = "0x08c379a0" + encode(["string"], ["nope"]).hex()
    panic = "0x4e487b71" + encode(["uint256"], [0x11]).hex()
    assert revert_reason("execution reverted: nope", error) == "nope"
    assert revert_reason("execution reverted", panic) == "panic 0x11"
    assert revert_reason("execution reverted", "0xdeadbeef") == "custom error 0xdeadbeef"
    assert revert_reason("execution reverted", None) == "reverted without a reason"
    assert revert_reason("out of gas", "0x08c379a0zz") == "out of gas"


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "x",
        {"to": "0x1"},
        {"to": ADDRESS, "value": -1},
        {"to": ADDRESS, "value": 1.5},
        {"to": ADDRESS, "value": "0xzz"},
        {"to": ADDRESS, "label": 3},
        {"to": ADDRESS, "value": str(2**256)},
    ],
)
def test_bad_simulation_transactions(raw: object) -> None:
    with pytest.raises(InvalidTransaction):
        parse_transaction(raw, 0)


def test_wallet_answers() -> None:
    tx_hash = "0x" + "AB" * 32
    ok = parse_wallet_answer(
        {
            "type": "wallet:tx_complete",
            "payload": {"txHash": tx_hash, "status": "success", "pending_tx_ids": ["2", 2]},
        }
    )
    assert ok is not None and (ok.kind, ok.status, ok.ids, ok.detail) == (
        TRANSACTION,
        RequestStatus.SUCCESS,
        (2,),
        {"txHash": tx_hash.lower()},
    )
    refused = parse_wallet_answer(
        {"type": "wallet_eip712_response", "payload": {"status": "failed", "error": "no"}}
    )
    assert refused is not None and (refused.kind, refused.status, refused.detail) == (
        EIP712,
        RequestStatus.FAILED,
        {"error": "no"},
    )
    assert parse_wallet_answer({"type": "other"}) is None
    assert parse_wallet_answer(["wallet:tx_complete"]) is None
    with pytest.raises(InvalidInput):
        parse_wallet_answer({"type": "wallet_tx_response", "payload": {"status": "success"}})
    with pytest.raises(InvalidInput):
        parse_wallet_answer({"type": "wallet:tx_complete", "payload": {"status": "failed", "tx_ids": [True]}})

    def request(id: int, kind: str) -> WalletRequest:
        return WalletRequest(id, kind, f"c{id}", {}, None, None, expires_ms=0)

    pending = [request(1, EIP712), request(2, TRANSACTION), request(3, TRANSACTION)]
    assert [r.id for r in answered(pending, ok)] == [2]
    assert [r.id for r in answered(pending, refused)] == [1]
    untargeted = parse_wallet_answer({"type": "wallet:tx_complete", "payload": {"status": "failed"}})
    assert untargeted is not None and [r.id for r in answered(pending, untargeted)] == [2]
