"""SIGTERM on a real `aomi serve`: running turns get the grace period to end, the rest are
interrupted with their partial answers kept, and the process exits 0."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ServerProcess, wait_idle
from tests.support.providers import FakeProvider, Reply

pytestmark = pytest.mark.e2e


def _server(env: dict[str, str], fake: FakeProvider, tmp_path: Path, grace: float) -> ServerProcess:
    env = {
        **env,
        "AOMI_MODELS": "gpt=openai:gpt-4o",
        "OPENAI_API_KEY": "sk-e2e-" + "s" * 30,
        "OPENAI_BASE_URL": fake.openai_base_url,
        "AOMI_SHUTDOWN_GRACE_SECONDS": str(grace),
        "AOMI_LOG_LEVEL": "info",
    }
    return ServerProcess(env, int(env["AOMI_PORT"]), tmp_path / "server.log")


def _started(url: str, fake: FakeProvider) -> str:
    sid = str(uuid.uuid4())
    r = httpx.post(f"{url}/api/chat", params={"message": "Tell me slowly"}, headers={"X-Session-Id": sid})
    assert r.status_code == 200 and r.json()["is_processing"], r.text
    deadline = time.monotonic() + 10
    while not fake.requests:  # the model request is on its way: the turn runs
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return sid


def _terminate(server: ServerProcess) -> tuple[int, float]:
    assert server.proc is not None
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    code = server.proc.wait(timeout=30)
    server.proc = None
    return code, time.monotonic() - started


def test_a_running_turn_ends_within_the_grace_period(
    env: dict[str, str], fake: FakeProvider, tmp_path: Path
) -> None:
    server = _server(env, fake, tmp_path, grace=15)
    server.start()
    fake.script[:] = [Reply(text=["A slow ", "but whole ", "answer."], chunk_delay=0.7)]
    sid = _started(server.url, fake)
    code, took = _terminate(server)
    assert code == 0
    assert took < 15
    server.start()
    try:
        body = wait_idle(server.url, sid)
        assert body["status"] == "idle"
        assert body["messages"][-1]["content"] == "A slow but whole answer."
    finally:
        server.stop()


def test_a_turn_past_the_grace_period_is_interrupted_and_kept(
    env: dict[str, str], fake: FakeProvider, tmp_path: Path
) -> None:
    server = _server(env, fake, tmp_path, grace=1)
    server.start()
    held = threading.Event()  # never set: the model holds the rest of its answer
    fake.script[:] = [Reply(text=["Partial ", "never sent"], hang_after=1, gate=held)]
    sid = _started(server.url, fake)
    time.sleep(0.3)  # the first chunk has arrived
    code, took = _terminate(server)
    log = server.log.read_text()
    assert code == 0, log
    assert took < 10, log
    assert "interrupting 1 turn(s) still running at shutdown" in log
    server.start()
    try:
        body = wait_idle(server.url, sid)
        assert body["status"] == "interrupted"
        assert body["messages"][-1]["content"] == "Partial "
        # Interrupted cleanly by its own server: no orphan recovery was needed.
        assert not any("orphan" in str(e).lower() for e in body["system_events"]), body["system_events"]
    finally:
        server.stop()
        held.set()
