"""The local-chain plumbing: Anvil starts, the test contracts deploy, ENS names resolve."""

from __future__ import annotations

import pytest
from eth_account import Account
from web3 import Web3

from tests.support.anvil import (
    DEV_ACCOUNTS,
    Anvil,
    ChainFixture,
    chain_snapshot,
    labelhash,
    load_artifact,
    namehash,
    reverse_name,
    rpc,
    send,
    web3_for,
)


def test_anvil_answers_with_the_dev_accounts(anvil_node: Anvil) -> None:
    assert int(rpc(anvil_node.url, "eth_chainId"), 16) == 31337
    assert anvil_node.url == f"http://127.0.0.1:{anvil_node.port}"
    assert len(anvil_node.accounts) == 10
    assert [Web3.to_checksum_address(a) for a in rpc(anvil_node.url, "eth_accounts")] == [
        a.address for a in anvil_node.accounts
    ]
    for account in DEV_ACCOUNTS:
        assert Account.from_key(account.private_key).address == account.address
    balance = int(rpc(anvil_node.url, "eth_getBalance", [DEV_ACCOUNTS[9].address, "latest"]), 16)
    assert balance == 10_000 * 10**18


def test_token_decimals_and_supply(chain_fixture: ChainFixture) -> None:
    w3 = web3_for(chain_fixture.url)
    token = w3.eth.contract(address=chain_fixture.token, abi=load_artifact("TestToken")["abi"])
    assert token.functions.name().call() == "Test USD"
    assert token.functions.symbol().call() == "TUSD"
    assert token.functions.decimals().call() == 6 == chain_fixture.token_decimals
    assert token.functions.totalSupply().call() == chain_fixture.token_supply == 1_000_000 * 10**6
    assert token.functions.balanceOf(chain_fixture.accounts[0].address).call() == chain_fixture.token_supply


def test_transfer_moves_balances_and_reverts_with_reasons(chain_fixture: ChainFixture) -> None:
    w3 = web3_for(chain_fixture.url)
    token = w3.eth.contract(address=chain_fixture.token, abi=load_artifact("TestToken")["abi"])
    sender, receiver = chain_fixture.accounts[0], chain_fixture.accounts[2]
    with chain_snapshot(chain_fixture.url):
        receipt = send(w3, token.functions.transfer(receiver.address, 25 * 10**6), sender.private_key)
        assert len(token.events.Transfer().process_receipt(receipt)) == 1
        assert token.functions.balanceOf(receiver.address).call() == 25 * 10**6
        assert token.functions.balanceOf(sender.address).call() == chain_fixture.token_supply - 25 * 10**6
        too_much = token.functions.transfer(sender.address, 26 * 10**6)
        with pytest.raises(Exception, match="ERC20: insufficient balance"):
            too_much.call({"from": receiver.address})
        pull = token.functions.transferFrom(sender.address, receiver.address, 1)
        with pytest.raises(Exception, match="ERC20: insufficient allowance"):
            pull.call({"from": receiver.address})
    # The snapshot is reverted: other tests see the deployed state.
    assert token.functions.balanceOf(receiver.address).call() == 0
    assert token.functions.balanceOf(sender.address).call() == chain_fixture.token_supply


def test_ens_forward_and_reverse_resolution(chain_fixture: ChainFixture) -> None:
    w3 = web3_for(chain_fixture.url)
    registry = w3.eth.contract(address=chain_fixture.ens_registry, abi=load_artifact("MiniENS")["abi"])
    resolver_abi = load_artifact("MiniResolver")["abi"]
    alice = chain_fixture.accounts[1]
    assert chain_fixture.ens_name == "alice.test" and chain_fixture.ens_address == alice.address

    node = namehash("alice.test")
    assert registry.functions.owner(node).call() == chain_fixture.accounts[0].address
    resolver = w3.eth.contract(address=registry.functions.resolver(node).call(), abi=resolver_abi)
    assert resolver.address == chain_fixture.ens_resolver
    assert resolver.functions.addr(node).call() == alice.address
    for interface in ("0x3b3b57de", "0x691f3431", "0x01ffc9a7"):
        assert resolver.functions.supportsInterface(bytes.fromhex(interface[2:])).call() is True
    assert resolver.functions.supportsInterface(bytes.fromhex("ffffffff")).call() is False

    reverse = namehash(reverse_name(alice.address))
    assert registry.functions.owner(reverse).call() == alice.address
    reverse_resolver = w3.eth.contract(address=registry.functions.resolver(reverse).call(), abi=resolver_abi)
    assert reverse_resolver.functions.name(reverse).call() == "alice.test"
    assert registry.functions.resolver(namehash("bob.test")).call() == "0x" + "00" * 20


def test_namehash_matches_eip137() -> None:
    assert namehash("") == b"\x00" * 32
    assert namehash("eth").hex() == "93cdeb708b7545dc668eb9280176169d1c33cfd8ed6f04690a0bcc88a93fc4ae"
    assert namehash("foo.eth").hex() == "de9b09fd7c5f901e23a3f19fecc54828e9c848539801e86591bd9801b019f84f"
    assert (
        namehash("addr.reverse").hex() == "91d1777781884d03a6757a803996e38de2a42967fb37eeaca72729271025a9e2"
    )
    assert labelhash("eth").hex() == "4f5b812789fc606be1b3b16908db13fc7a9adf7ca72641f84d75b47069d3d7f0"
    assert reverse_name(DEV_ACCOUNTS[1].address) == "70997970c51812dc3a010c7d01b50e0d17dc79c8.addr.reverse"
