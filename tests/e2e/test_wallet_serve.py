"""End to end on a real chain: a real `aomi serve` process parks a turn on a wallet request, is
killed, and a new process resumes the same turn when the wallet's answer arrives; a batch is
simulated through the real process."""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from tests.e2e.conftest import ServerProcess, wait_idle
from tests.support.anvil import ChainFixture, chain_snapshot, web3_for
from tests.support.chain import chain_env

pytestmark = pytest.mark.e2e


@pytest.fixture
def chain_server(env: dict[str, str], tmp_path: Path, chain_fixture: ChainFixture) -> Iterator[ServerProcess]:
    with chain_snapshot(chain_fixture.url):
        proc = ServerProcess(
            {**env, **chain_env(chain_fixture)}, int(env["AOMI_PORT"]), tmp_path / "server.log"
        )
        proc.start()
        yield proc
        proc.stop()


def _wallet_request(url: str, sid: str, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while True:
        r = httpx.get(f"{url}/api/state", params={"user_state": state}, headers={"X-Session-Id": sid})
        calls = [e["InlineCall"] for e in r.json()["system_events"] if "InlineCall" in e]
        if calls:
            call: dict[str, Any] = calls[0]
            return call
        assert time.monotonic() < deadline, r.json()
        time.sleep(0.02)


def _children(pid: int, name: str) -> list[int]:
    """Processes whose parent is ``pid`` and whose command line names ``name``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and name.encode() in cmdline:
            found.append(int(entry.name))
    return found


def _wait_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() and "Z" not in _state(pid) for pid in pids):
        assert time.monotonic() < deadline, f"processes still running: {pids}"
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


def test_a_parked_turn_survives_a_killed_server(
    chain_server: ServerProcess, chain_fixture: ChainFixture
) -> None:
    fx, sid = chain_fixture, str(uuid.uuid4())
    sender, receiver = fx.accounts[2], fx.accounts[7]
    w3 = web3_for(fx.url)
    before = w3.eth.get_balance(receiver.address)
    state = json.dumps({"address": sender.address, "chainId": fx.chain_id, "isConnected": True})
    r = httpx.post(
        f"{chain_server.url}/api/chat",
        params={"message": f"send 0.25 ETH to {receiver.address}", "user_state": state},
        headers={"X-Session-Id": sid},
    )
    assert r.status_code == 200, r.text
    call = _wallet_request(chain_server.url, sid, state)
    assert call["type"] == "wallet_tx_request" and call["payload"]["value"] == str(25 * 10**16)

    # A simulation first: the server then has an Anvil fork of its own.
    sim = {"transactions": [{"to": receiver.address}], "from": sender.address}
    r = httpx.post(f"{chain_server.url}/api/simulate", json=sim, headers={"X-Session-Id": sid}, timeout=60)
    assert r.status_code == 200, r.text
    assert chain_server.proc is not None
    forks = _children(chain_server.proc.pid, "anvil")
    assert len(forks) == 1
    chain_server.proc.send_signal(signal.SIGKILL)  # no graceful stop: the process is gone
    chain_server.proc.wait(timeout=10)
    _wait_gone(forks)  # its fork went with it
    chain_server.proc = None
    chain_server.start()

    body = httpx.get(f"{chain_server.url}/api/state", headers={"X-Session-Id": sid}).json()
    assert body["status"] == "processing" and list(body["user_state"]["pending_txs"]) == ["1"]
    payload = call["payload"]
    tx = {
        "to": payload["to"],
        "value": int(payload["value"]),
        "chainId": payload["chain_id"],
        "nonce": w3.eth.get_transaction_count(sender.address),
        "gas": 21_000,
        "gasPrice": 2 * w3.eth.gas_price + 10**9,
    }
    raw = Account.sign_transaction(tx, sender.private_key).raw_transaction
    tx_hash = "0x" + w3.eth.send_raw_transaction(raw).hex().removeprefix("0x")
    answer = {
        "type": "wallet:tx_complete",
        "payload": {"txHash": tx_hash, "status": "success", "pending_tx_ids": [1]},
    }
    r = httpx.post(
        f"{chain_server.url}/api/system",
        params={"message": json.dumps(answer)},
        headers={"X-Session-Id": sid},
    )
    assert r.status_code == 200, r.text
    final = wait_idle(chain_server.url, sid)
    assert f"Transaction {tx_hash} confirmed" in final["messages"][-1]["content"]
    assert w3.eth.get_balance(receiver.address) == before + 25 * 10**16


def test_simulate_through_a_real_server(chain_server: ServerProcess, chain_fixture: ChainFixture) -> None:
    fx = chain_fixture
    block = web3_for(fx.url).eth.block_number
    body = {
        "transactions": [{"to": fx.accounts[1].address, "value": str(10**18), "label": "One ETH"}],
        "from": fx.accounts[0].address,
    }
    r = httpx.post(
        f"{chain_server.url}/api/simulate", json=body, headers={"X-Session-Id": str(uuid.uuid4())}, timeout=60
    )
    assert r.status_code == 200, r.text
    (step,) = r.json()["result"]["steps"]
    assert (step["success"], step["gas_used"], step["tx"]["value_eth"]) == (True, 21_000, "1")
    assert web3_for(fx.url).eth.block_number == block
