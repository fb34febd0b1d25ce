"""What every benchmark needs: free ports, server processes, and an `aomi serve` environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
AOMI = str(Path(sys.executable).parent / "aomi")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def aomi_env(data_dir: str, port: int, database_url: str | None = None, **settings: str) -> dict[str, str]:
    """The environment of an `aomi serve` for benchmarks: quiet, in ``data_dir``, on ``port``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AOMI_")}
    env.update(
        AOMI_DATA_DIR=data_dir,
        AOMI_PORT=str(port),
        AOMI_LOG_LEVEL="warning",
        AOMI_SECRET_KEY="bench-secret-not-for-production-0123456789",
        AOMI_APPS_DIR=str(Path(data_dir) / "apps"),
        **{f"AOMI_{name.upper()}": value for name, value in settings.items()},
    )
    if database_url:
        env["AOMI_DATABASE_URL"] = database_url
    return env


def baseline_command(app: str, port: int) -> list[str]:
    """A baseline ASGI app under uvicorn with the same loop and parser `aomi serve` uses."""
    return [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning",
            "--loop", "uvloop", "--http", "httptools"]  # fmt: skip


@contextmanager
def process(cmd: list[str], env: dict[str, str], url: str) -> Iterator[None]:
    """Run a server until the block ends; ready once its /health answers."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start: {' '.join(cmd)}")
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)
