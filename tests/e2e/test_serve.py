"""End to end: a real `aomi serve` process, the README's seed flow with curl, restart, long URLs."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fixtures import price_api
from tests.support.price_server import FakePriceApi

__all__ = ["price_api"]

from tests.e2e.conftest import AOMI, ServerProcess, wait_idle

pytestmark = pytest.mark.e2e


def _issue_key(env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [AOMI, "keys", "create", "--app", "mycoindex", "--slug", "mcd", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    issued: dict[str, Any] = json.loads(out.stdout)
    return issued


def _curl(*args: str) -> tuple[int, dict[str, Any]]:
    out = subprocess.run(
        ["curl", "-sS", "-w", "\n%{http_code}", *args], capture_output=True, text=True, check=True, timeout=30
    )
    body, _, code = out.stdout.rpartition("\n")
    return int(code), json.loads(body)


def test_seed_flow_with_curl_and_restart(server: ServerProcess, env: dict[str, str]) -> None:
    issued = _issue_key(env)
    key = issued["key"]
    assert key.startswith("sk-mcd-") and issued["apps"] == ["mycoindex"]
    sid = str(uuid.uuid4())
    started = time.monotonic()
    code, body = _curl(
        "-X",
        "POST",
        f"{server.url}/api/chat?message=What%20is%20the%20price%20of%20ETH%3F&app=mycoindex",
        "-H",
        f"AOMI-APP-KEY: {key}",
        "-H",
        f"X-Session-Id: {sid}",
    )
    assert code == 200, body
    assert body["is_processing"] is True
    assert body["messages"][0]["content"] == "What is the price of ETH?"
    done = wait_idle(server.url, sid, "mycoindex", key)
    turn_seconds = time.monotonic() - started
    answer = done["messages"][-1]
    assert answer["sender"] == "agent" and "3,456.78" in answer["content"]
    print(
        f"\nstart-up {server.startup_seconds * 1000:.0f} ms; chat turn to idle {turn_seconds * 1000:.0f} ms"
    )

    # Without the key, and with a key for nothing: the documented errors.
    code, err = _curl(
        "-X", "POST", f"{server.url}/api/chat?message=hi&app=mycoindex", "-H", f"X-Session-Id: {sid}"
    )
    assert code == 401 and err["error"]["code"] == "app_key_required"

    # Restart: the session comes back from the database.
    server.stop()
    server.start()
    again = wait_idle(server.url, sid, "mycoindex", key)
    assert again["messages"] == done["messages"]

    # A revocation by the CLI (another process) reaches the running server.
    subprocess.run([AOMI, "keys", "revoke", issued["prefix"]], env=env, check=True, capture_output=True)
    revoked_at = time.monotonic()
    deadline = revoked_at + 10
    while True:
        r = httpx.get(
            f"{server.url}/api/state",
            params={"app": "mycoindex"},
            headers={"X-Session-Id": sid, "AOMI-APP-KEY": key},
        )
        if r.status_code == 401:
            break
        assert r.status_code == 200 and time.monotonic() < deadline
        time.sleep(0.02)
    print(f"revoked key rejected after {(time.monotonic() - revoked_at) * 1000:.0f} ms")


def test_a_killed_server_leaves_no_session_processing(
    env: dict[str, str], tmp_path: Path, price_api: FakePriceApi
) -> None:
    """SIGKILL mid-turn: the next server marks the turn interrupted and says why, keeping the messages."""
    env = {**env, "AOMI_LEASE_SECONDS": "1"}
    server = ServerProcess(env, int(env["AOMI_PORT"]), tmp_path / "killed.log")
    server.start()
    key = _issue_key(env)["key"]
    sid = str(uuid.uuid4())
    price_api.delay = 60.0  # the tool call hangs: the turn is mid-flight when the server dies
    headers = {"X-Session-Id": sid, "AOMI-APP-KEY": key}
    r = httpx.post(
        f"{server.url}/api/chat", params={"message": "price of ETH", "app": "mycoindex"}, headers=headers
    )
    assert r.status_code == 200
    deadline = time.monotonic() + 15
    while not any(m["tool_result"] for m in r.json()["messages"]):
        assert time.monotonic() < deadline, r.json()
        time.sleep(0.02)
        r = httpx.get(f"{server.url}/api/state", params={"app": "mycoindex"}, headers=headers)
    assert server.proc is not None
    server.proc.kill()
    server.proc.wait(timeout=10)
    price_api.delay = 0.0
    server.start()
    try:
        body = wait_idle(server.url, sid, "mycoindex", key)
        assert body["status"] == "interrupted"
        assert body["messages"][0]["content"] == "price of ETH"
        assert not any(m["is_streaming"] for m in body["messages"])
        assert "interrupted" in body["system_events"][0]["SystemError"]
    finally:
        server.stop()


def test_long_query_string_is_accepted(server: ServerProcess, env: dict[str, str]) -> None:
    key = _issue_key(env)["key"]
    sid = str(uuid.uuid4())
    message = "a" * 30_000
    state = {
        "address": "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045",
        "chain_id": 1,
        "ext": {"pad": "b" * 34_000},
    }
    query = urllib.parse.urlencode({"message": message, "app": "mycoindex", "user_state": json.dumps(state)})
    assert 64_000 <= len(query) <= 65_000
    r = httpx.post(
        f"{server.url}/api/chat?{query}", headers={"X-Session-Id": sid, "AOMI-APP-KEY": key}, timeout=10
    )
    assert r.status_code == 200, r.text[:300]
    assert r.json()["user_state"]["address"] == state["address"]
    too_big = urllib.parse.urlencode({"message": "a" * 33_000, "app": "mycoindex"})
    r = httpx.post(f"{server.url}/api/chat?{too_big}", headers={"X-Session-Id": sid, "AOMI-APP-KEY": key})
    assert r.status_code == 413


def test_invalid_manifest_stops_start_up_with_a_clear_message(env: dict[str, str], tmp_path: Path) -> None:
    manifest = Path(env["AOMI_APPS_DIR"]) / "mycoindex" / "app.toml"
    manifest.write_text(manifest.read_text().replace('"get_token_price"', '"no_such_tool"'))
    out = subprocess.run([AOMI, "serve"], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert "app.toml" in lines[0] and "tools" in lines[0] and "Traceback" not in out.stderr
