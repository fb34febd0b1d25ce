"""A replica SIGKILLed mid-turn (issue 11): every accepted user message survives, its sessions
become `interrupted`, and another replica serves them and takes new turns."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ServerProcess, wait_idle
from tests.support.price_server import FakePriceApi
from tests.support.serving import free_port

pytestmark = pytest.mark.e2e


def test_a_killed_replica_s_sessions_move_to_another(
    env: dict[str, str], tmp_path: Path, price_api: FakePriceApi
) -> None:
    if not env["AOMI_DATABASE_URL"].startswith("postgresql"):
        pytest.skip("several replicas need PostgreSQL (SQLite is single-process)")
    env = {**env, "AOMI_LEASE_SECONDS": "1"}
    doomed = ServerProcess(env, int(env["AOMI_PORT"]), tmp_path / "doomed.log")
    port = free_port()
    survivor = ServerProcess({**env, "AOMI_PORT": str(port)}, port, tmp_path / "survivor.log")
    doomed.start()
    survivor.start()
    try:
        price_api.delay = 60.0  # the tool call hangs: the turns are mid-flight when the replica dies
        sids = [str(uuid.uuid4()) for _ in range(4)]
        for sid in sids:
            r = httpx.post(
                f"{doomed.url}/api/chat",
                params={"message": f"price of ETH for {sid[:4]}"},
                headers={"X-Session-Id": sid},
            )
            assert r.status_code == 200, r.text
        deadline = time.monotonic() + 20
        for sid in sids:  # the survivor sees each tool call in the database: the turns run
            while not any(
                m["tool_result"]
                for m in httpx.get(f"{survivor.url}/api/state", headers={"X-Session-Id": sid}).json()[
                    "messages"
                ]
            ):
                assert time.monotonic() < deadline
                time.sleep(0.02)
        assert doomed.proc is not None
        doomed.proc.kill()
        doomed.proc.wait(timeout=10)
        doomed.proc = None
        price_api.delay = 0.0
        for sid in sids:
            body = wait_idle(survivor.url, sid)
            assert body["status"] == "interrupted"
            assert body["messages"][0]["content"] == f"price of ETH for {sid[:4]}"
            assert not any(m["is_streaming"] for m in body["messages"])
            r = httpx.post(
                f"{survivor.url}/api/chat", params={"message": "price of BTC"}, headers={"X-Session-Id": sid}
            )
            assert r.status_code == 200, r.text
            after = wait_idle(survivor.url, sid)
            assert after["status"] == "idle"
            users = [m["content"] for m in after["messages"] if m["sender"] == "user"]
            assert users == [f"price of ETH for {sid[:4]}", "price of BTC"]
            assert "97,123.50" in after["messages"][-1]["content"]
    finally:
        survivor.stop()
        doomed.stop()
