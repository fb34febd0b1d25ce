"""A real `aomi serve` process for end-to-end and browser tests (tests/e2e, tests/load, tests/web)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import TEST_SECRET
from tests.support.serving import free_port

ROOT = Path(__file__).resolve().parents[2]
AOMI = str(Path(sys.executable).parent / "aomi")


class ServerProcess:
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0
        self._spawned = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        """Start the process without waiting for it to answer (`wait_ready` does)."""
        self._spawned = time.monotonic()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([AOMI, "serve"], env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        """Wait (30 s at most) until the spawned process answers `/health`."""
        assert self.proc is not None, "spawn() first"
        deadline = self._spawned + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/health", timeout=1).text == "OK":
                    self.startup_seconds = time.monotonic() - self._spawned
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError(f"server did not start: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
        self.proc = None


def server_env(tmp_path: Path, database_url: str, price_api_url: str) -> dict[str, str]:
    """The environment of a test's server: its own data and apps dirs (with the example keyed App
    `mycoindex`), the given database and fake price API, a free port, no rate limits."""
    apps = tmp_path / "apps"
    shutil.copytree(ROOT / "examples" / "apps" / "mycoindex", apps / "mycoindex")
    base = {k: v for k, v in os.environ.items() if not k.startswith("AOMI_")}
    return {
        **base,
        "AOMI_DATA_DIR": str(tmp_path),
        "AOMI_APPS_DIR": str(apps),
        "AOMI_DATABASE_URL": database_url,
        "AOMI_SECRET_KEY": TEST_SECRET,
        "AOMI_PRICE_API_URL": price_api_url,
        "AOMI_PORT": str(free_port()),
        "AOMI_LOG_LEVEL": "warning",
        "AOMI_RATE_LIMIT_PER_KEY": "off",
        "AOMI_RATE_LIMIT_PER_SESSION": "off",
        "AOMI_SHUTDOWN_GRACE_SECONDS": "1",
    }


@contextmanager
def running_server(env: dict[str, str], tmp_path: Path, *, wait: bool = True) -> Iterator[ServerProcess]:
    """A started server with ``env`` (its log in ``tmp_path``), stopped when the block ends; with
    ``wait=False`` perhaps not answering yet (`ServerProcess.wait_ready`)."""
    proc = ServerProcess(env, int(env["AOMI_PORT"]), tmp_path / "server.log")
    proc.spawn()
    try:
        if wait:
            proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def wait_idle(url: str, sid: str, app: str | None = None, key: str | None = None) -> dict[str, Any]:
    """Poll `GET /api/state` until the session's turn has ended (15 s at most); its snapshot."""
    headers = {"X-Session-Id": sid, **({"AOMI-APP-KEY": key} if key else {})}
    params = {"app": app} if app else {}
    deadline = time.monotonic() + 15
    while True:
        r = httpx.get(f"{url}/api/state", params=params, headers=headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if not body["is_processing"]:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.02)
