"""What every benchmark needs: free ports, server processes, and an `aomi serve` environment."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
AOMI = str(Path(sys.executable).parent / "aomi")
POSTGRES = "postgres@127.0.0.1:5432"
"""The local PostgreSQL server (trust auth) that `postgres_database` creates databases on."""


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
        # Benchmarks drive one key and one session far past any sane rate limit, and stop at once.
        AOMI_RATE_LIMIT_PER_KEY="off",
        AOMI_RATE_LIMIT_PER_SESSION="off",
        AOMI_SHUTDOWN_GRACE_SECONDS="0",
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
def process(cmd: list[str], env: dict[str, str], url: str) -> Iterator[subprocess.Popen[bytes]]:
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
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class _Prices(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK stall between them

    def do_GET(self) -> None:
        body = json.dumps({"ethereum": {"usd": 3456.78}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def price_api() -> Iterator[str]:
    """A local CoinGecko-compatible price API (ETH at $3,456.78 whatever is asked); yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Prices)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def health(url: str, count: int) -> list[float]:
    """Milliseconds of ``count`` sequential GET /health round trips: the baseline."""
    samples = []
    async with httpx.AsyncClient(base_url=url) as client:
        for _ in range(count):
            started = time.perf_counter()
            (await client.get("/health")).raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
    return samples


async def _postgres(statement: str) -> None:
    conn = await asyncpg.connect(f"postgresql://{POSTGRES}/postgres")
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on the local PostgreSQL, dropped afterwards; yields its SQLAlchemy URL."""
    name = f"aomi_bench_{secrets.token_hex(4)}"
    asyncio.run(_postgres(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://{POSTGRES}/{name}"
    finally:
        asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
