"""A real local EVM chain for tests: Anvil (from npm, see package.json) and the test contracts.

`run_anvil()` starts a node on 127.0.0.1 (a free port, chain id 31337, the standard dev mnemonic)
and stops it on exit. `deploy_fixtures(url)` deploys the contracts of tests/support/contracts/
(compiled into artifacts.json by scripts/build-contracts) and registers ENS names.

Pytest fixtures, session-scoped (one node for the whole run; import them into a conftest.py):
`anvil_node` (a running `Anvil`) and `chain_fixture` (a `ChainFixture` deployed on it). Tests
that change chain state should do so inside `chain_snapshot(url)` so the others see it unchanged.
Without an Anvil binary these fixtures skip locally; under CI=true they fail.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypedDict, cast

import httpx
import pytest
from eth_account import Account
from eth_typing import ABI, ChecksumAddress, HexStr
from eth_utils import keccak, to_checksum_address
from web3 import HTTPProvider, Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.types import TxParams, TxReceipt

from tests.support.serving import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "contracts" / "artifacts.json"

CHAIN_ID = 31337
DEV_MNEMONIC = "test test test test test test test test test test test junk"


class DevAccount(NamedTuple):
    address: ChecksumAddress
    private_key: str


# The first 10 accounts Anvil (and Hardhat) derive from DEV_MNEMONIC (m/44'/60'/0'/0/i), each
# funded with 10,000 ETH. Public test keys: never use them anywhere but a local chain.
DEV_ACCOUNTS: tuple[DevAccount, ...] = tuple(
    DevAccount(to_checksum_address(address), key)
    for address, key in [
        (
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        ),
        (
            "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
            "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
        ),
        (
            "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
            "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
        ),
        (
            "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
            "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
        ),
        (
            "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
            "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
        ),
        (
            "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
            "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
        ),
        (
            "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
            "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
        ),
        (
            "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
            "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
        ),
        (
            "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
            "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
        ),
        (
            "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
            "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
        ),
    ]
)


class AnvilNotFoundError(RuntimeError):
    """No Anvil binary: install it with `npm ci` (scripts/check does) or set AOMI_ANVIL."""


class RpcError(RuntimeError):
    """A JSON-RPC call answered with an error object."""


# ---------------------------------------------------------------------------------------------
# Locating and running Anvil


def _platform_package() -> str | None:
    """The @foundry-rs/anvil-<os>-<arch> package that ships the binary for this machine."""
    system = {"linux": "linux", "darwin": "darwin", "windows": "win32"}.get(platform.system().lower())
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower()
    )
    return f"anvil-{system}-{arch}" if system and arch else None


def anvil_binary() -> str:
    """Path of the Anvil binary: $AOMI_ANVIL, else the npm platform package's binary, else
    node_modules/.bin/anvil (the npm launcher), else `anvil` on PATH."""
    env = os.environ.get("AOMI_ANVIL")
    if env:
        if not (Path(env).is_file() and os.access(env, os.X_OK)):
            raise AnvilNotFoundError(f"AOMI_ANVIL={env} is not an executable file.")
        return env
    candidates: list[Path] = []
    package = _platform_package()
    if package:
        exe = "anvil.exe" if package.startswith("anvil-win32") else "anvil"
        candidates.append(REPO_ROOT / "node_modules" / "@foundry-rs" / package / "bin" / exe)
    candidates.append(REPO_ROOT / "node_modules" / ".bin" / "anvil")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    found = shutil.which("anvil")
    if found:
        return found
    raise AnvilNotFoundError(
        "Anvil not found: run `npm ci --no-audit --no-fund --ignore-scripts` in the repository root "
        f"(looked in {', '.join(str(p) for p in candidates)} and on PATH), or set AOMI_ANVIL."
    )


def rpc(url: str, method: str, params: Sequence[Any] = (), timeout: float = 10.0) -> Any:
    """One synchronous JSON-RPC call; returns `result`, raises `RpcError` on an error answer."""
    response = httpx.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=timeout
    )
    response.raise_for_status()
    body = response.json()
    if body.get("error") is not None:
        raise RpcError(f"{method}: {body['error']}")
    return body["result"]


@dataclass(frozen=True)
class Anvil:
    """A running Anvil node."""

    process: subprocess.Popen[bytes]
    port: int
    chain_id: int = CHAIN_ID
    accounts: tuple[DevAccount, ...] = DEV_ACCOUNTS

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def web3(self) -> Web3:
        return web3_for(self.url)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_ready(process: subprocess.Popen[bytes], url: str, deadline: float) -> bool:
    """True once `eth_chainId` answers; False if the process exited first (e.g. port taken)."""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            chain_id = int(rpc(url, "eth_chainId", timeout=1.0), 16)
        except (httpx.HTTPError, RpcError, ValueError):
            time.sleep(0.05)
            continue
        if chain_id != CHAIN_ID:
            raise RuntimeError(f"Anvil at {url} answered chain id {chain_id}, expected {CHAIN_ID}")
        return True
    raise TimeoutError(f"Anvil at {url} did not answer eth_chainId in time")


@contextmanager
def run_anvil(*extra_args: str, binary: str | None = None, startup_timeout: float = 30.0) -> Iterator[Anvil]:
    """Start Anvil on 127.0.0.1 (a free port) with the dev accounts; stop it on exit.

    `extra_args` are passed to anvil as they are (e.g. "--block-time", "1").
    """
    exe = binary or anvil_binary()
    attempts = 3  # another process may take the free port between choosing and binding it
    for attempt in range(1, attempts + 1):
        port = free_port()
        args = [
            exe,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--chain-id",
            str(CHAIN_ID),
            "--mnemonic",
            DEV_MNEMONIC,
            "--accounts",
            str(len(DEV_ACCOUNTS)),
            "--quiet",
            *extra_args,
        ]
        with tempfile.TemporaryFile() as stderr:
            process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
            )
            try:
                ready = _wait_ready(process, f"http://127.0.0.1:{port}", time.monotonic() + startup_timeout)
                if not ready:
                    stderr.seek(0)
                    output = stderr.read().decode(errors="replace").strip()
                    if attempt == attempts:
                        raise RuntimeError(f"Anvil exited with code {process.returncode}: {output}")
                    continue
                yield Anvil(process=process, port=port)
                return
            finally:
                _stop(process)


# ---------------------------------------------------------------------------------------------
# Contracts


class Artifact(TypedDict):
    abi: ABI
    bytecode: HexStr


def load_artifact(name: str) -> Artifact:
    """ABI and creation bytecode of a test contract (TestToken, MiniENS, MiniResolver)."""
    artifacts = cast(dict[str, Artifact], json.loads(ARTIFACTS.read_text()))
    if name not in artifacts:
        raise KeyError(f"no artifact {name!r} in {ARTIFACTS} (have: {', '.join(sorted(artifacts))})")
    return artifacts[name]


def web3_for(url: str) -> Web3:
    """A synchronous Web3 on `url`."""
    return Web3(HTTPProvider(url, request_kwargs={"timeout": 30}))


def send(w3: Web3, call: ContractFunction | ContractConstructor, sender_key: str) -> TxReceipt:
    """Sign `call` with `sender_key`, send it and wait for its receipt; raises if it reverted."""
    sender = Account.from_key(sender_key)
    params: TxParams = {
        "from": sender.address,
        "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
        "chainId": w3.eth.chain_id,
    }
    tx = call.build_transaction(params)
    signed = sender.sign_transaction(cast(dict[str, Any], tx))
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction), 30)
    if receipt["status"] != 1:
        raise RuntimeError(f"transaction {receipt['transactionHash'].hex()} reverted")
    return receipt


def _deploy(
    w3: Web3, artifact_name: str, constructor_args: Sequence[Any], sender_key: str
) -> ChecksumAddress:
    artifact = load_artifact(artifact_name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = send(w3, factory.constructor(*constructor_args), sender_key)
    address = receipt["contractAddress"]
    if address is None:
        raise RuntimeError(f"deploying {artifact_name} created no contract")
    return address


def deploy(
    url: str,
    artifact_name: str,
    constructor_args: Sequence[Any] = (),
    sender_key: str = DEV_ACCOUNTS[0].private_key,
) -> ChecksumAddress:
    """Deploy a test contract from artifacts.json; returns its address."""
    return _deploy(web3_for(url), artifact_name, constructor_args, sender_key)


# ---------------------------------------------------------------------------------------------
# ENS names


def labelhash(label: str) -> bytes:
    return keccak(text=label)


def namehash(name: str) -> bytes:
    """EIP-137 namehash of an already normalized name ("" is the root)."""
    node = b"\x00" * 32
    if name:
        for label in reversed(name.split(".")):
            node = keccak(node + labelhash(label))
    return node


def reverse_name(address: str) -> str:
    """The reverse-resolution name of `address`: <lowercase hex without 0x>.addr.reverse."""
    return f"{address.lower().removeprefix('0x')}.addr.reverse"


# ---------------------------------------------------------------------------------------------
# The deployed fixture


@dataclass(frozen=True)
class ChainFixture:
    """What `deploy_fixtures` put on the chain at `url`.

    TestToken `token` ("Test USD", TUSD, 6 decimals): the whole `token_supply` belongs to
    accounts[0]. ENS: `ens_registry` (MiniENS, root owned by accounts[0]) and `ens_resolver`
    (MiniResolver). `ens_name` ("alice.test", owned by accounts[0]) resolves to `ens_address`
    (accounts[1]), whose reverse record (`reverse_name(ens_address)`, owned by accounts[1]) is
    `ens_name` on the same resolver.
    """

    url: str
    chain_id: int
    accounts: tuple[DevAccount, ...]
    token: ChecksumAddress
    token_name: str
    token_symbol: str
    token_decimals: int
    token_supply: int
    ens_registry: ChecksumAddress
    ens_resolver: ChecksumAddress
    ens_name: str
    ens_address: ChecksumAddress


def deploy_fixtures(url: str) -> ChainFixture:
    """Deploy the test token and a tiny ENS (with alice.test and its reverse record) on `url`."""
    w3 = web3_for(url)
    owner, alice = DEV_ACCOUNTS[0], DEV_ACCOUNTS[1]
    name, symbol, decimals, supply = "Test USD", "TUSD", 6, 1_000_000 * 10**6
    token = _deploy(w3, "TestToken", (name, symbol, decimals, supply), owner.private_key)

    registry_address = _deploy(w3, "MiniENS", (), owner.private_key)
    resolver_address = _deploy(w3, "MiniResolver", (), owner.private_key)
    registry = w3.eth.contract(address=registry_address, abi=load_artifact("MiniENS")["abi"])
    resolver = w3.eth.contract(address=resolver_address, abi=load_artifact("MiniResolver")["abi"])

    def subnode(parent: str, label: str, new_owner: str) -> None:
        fn = registry.functions.setSubnodeOwner(namehash(parent), labelhash(label), new_owner)
        send(w3, fn, owner.private_key)

    ens_name = "alice.test"
    subnode("", "test", owner.address)
    subnode("test", "alice", owner.address)
    send(w3, registry.functions.setResolver(namehash(ens_name), resolver_address), owner.private_key)
    send(w3, resolver.functions.setAddr(namehash(ens_name), alice.address), owner.private_key)

    reverse = reverse_name(alice.address)
    subnode("", "reverse", owner.address)
    subnode("reverse", "addr", owner.address)
    subnode("addr.reverse", reverse.split(".")[0], alice.address)
    send(w3, registry.functions.setResolver(namehash(reverse), resolver_address), alice.private_key)
    send(w3, resolver.functions.setName(namehash(reverse), ens_name), alice.private_key)

    return ChainFixture(
        url=url,
        chain_id=CHAIN_ID,
        accounts=DEV_ACCOUNTS,
        token=token,
        token_name=name,
        token_symbol=symbol,
        token_decimals=decimals,
        token_supply=supply,
        ens_registry=registry_address,
        ens_resolver=resolver_address,
        ens_name=ens_name,
        ens_address=alice.address,
    )


@contextmanager
def chain_snapshot(url: str) -> Iterator[None]:
    """Revert the chain at `url` to its current state on exit (evm_snapshot / evm_revert)."""
    snapshot_id = rpc(url, "evm_snapshot")
    try:
        yield
    finally:
        if not rpc(url, "evm_revert", [snapshot_id]):
            raise RuntimeError(f"evm_revert {snapshot_id} failed")


# ---------------------------------------------------------------------------------------------
# Pytest fixtures


def _under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def anvil_node() -> Iterator[Anvil]:
    """One Anvil node for the whole test session. Skipped without a binary; under CI, an error."""
    try:
        binary, missing = anvil_binary(), ""
    except AnvilNotFoundError as exc:
        binary, missing = "", str(exc)
    if missing:
        if _under_ci():
            pytest.fail(f"Anvil is required under CI=true and is missing. {missing}", pytrace=False)
        pytest.skip(f"no Anvil binary (chain tests need it). {missing}")
    with run_anvil(binary=binary) as node:
        yield node


@pytest.fixture(scope="session")
def chain_fixture(anvil_node: Anvil) -> ChainFixture:
    """The test token and ENS names deployed once on the session's Anvil node."""
    return deploy_fixtures(anvil_node.url)
