"""Anvil forks for simulation: one `anvil --fork-url <chain's RPC>` process per chain, started on
demand on loopback, reused, at most `AOMI_SIMULATION_FORKS` at once (the least recently used
idle one stops when another chain needs a fork). One simulation at a time per fork.

A fork only reads the real chain; everything sent to it stays in the fork."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import platform
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from aomi.chain.networks import Chains, describe
from aomi.errors import ChainUnavailable, SimulationUnavailable

log = logging.getLogger("aomi.chain")

START_TIMEOUT_SECONDS = 30.0
PR_SET_PDEATHSIG = 1
_PROJECT_ROOT = Path(__file__).resolve().parents[3]


def _platform_package() -> str:
    system = {"linux": "linux", "darwin": "darwin", "win32": "win32"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower()
    arch = "arm64" if machine in ("arm64", "aarch64") else "amd64"
    return f"anvil-{system}-{arch}"


def find_anvil(configured: str | None) -> str:
    """The Anvil binary: the setting, else npm's `@foundry-rs/anvil` in `node_modules` (of the
    working directory or the project), else `anvil` on PATH."""
    if configured:
        if not os.access(configured, os.X_OK):
            raise SimulationUnavailable(f"AOMI_ANVIL_PATH {configured!r} is not an executable file")
        return configured
    for root in (Path.cwd(), _PROJECT_ROOT):
        candidate = root / "node_modules" / "@foundry-rs" / _platform_package() / "bin" / "anvil"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("anvil")
    if found is None:
        raise SimulationUnavailable(
            "simulation needs Anvil, which this server cannot find: install it with "
            "`npm install @foundry-rs/anvil` (or Foundry), or set AOMI_ANVIL_PATH"
        )
    return found


def _die_with_parent() -> None:
    """In the fork's process before exec (Linux): it gets SIGTERM when the server dies, even by
    SIGKILL, so no Anvil outlives the server that started it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ForkRpcError(Exception):
    """A JSON-RPC error answer of a fork (a revert, most often)."""

    def __init__(self, message: str, data: object) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


@dataclass(eq=False)
class Fork:
    chain_id: int
    upstream: str
    url: str
    process: asyncio.subprocess.Process
    http: httpx.AsyncClient
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = 0.0

    async def rpc(self, method: str, params: list[Any]) -> Any:
        try:
            response = await self.http.post(
                self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
            )
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ChainUnavailable(
                f"the simulation fork of {describe(self.chain_id)} failed: {exc}"
            ) from None
        if "error" in body:
            error = body["error"] or {}
            raise ForkRpcError(str(error.get("message", "error")), error.get("data"))
        return body.get("result")


class ForkPool:
    def __init__(self, chains: Chains, anvil_path: str | None, max_forks: int) -> None:
        self.chains = chains
        self.anvil_path = anvil_path
        self.max_forks = max_forks
        self._forks: dict[int, Fork] = {}
        self._starting = asyncio.Lock()
        self._http = httpx.AsyncClient(timeout=chains.timeout_seconds * 3)

    @contextlib.asynccontextmanager
    async def fork(self, chain_id: int) -> AsyncIterator[Fork]:
        """The chain's fork, held for one simulation, reset to the chain's latest block."""
        upstream = self.chains.rpc_url(chain_id)  # UnknownChain before anything starts
        async with self._starting:
            fork = self._forks.get(chain_id)
            if fork is None or fork.process.returncode is not None:
                await self._make_room()
                fork = await self._start(chain_id, upstream)
                self._forks[chain_id] = fork
        async with fork.lock:
            fork.last_used = asyncio.get_running_loop().time()
            try:
                await fork.rpc("anvil_reset", [{"forking": {"jsonRpcUrl": upstream}}])
            except ForkRpcError as exc:
                raise ChainUnavailable(
                    f"the RPC of {describe(chain_id)} could not be forked: {exc.message}"
                ) from None
            yield fork

    async def _make_room(self) -> None:
        while len(self._forks) >= self.max_forks:
            chain_id, oldest = min(self._forks.items(), key=lambda item: item[1].last_used)
            async with oldest.lock:  # wait for a simulation on it to finish
                del self._forks[chain_id]
                await self._stop(oldest)

    async def _start(self, chain_id: int, upstream: str) -> Fork:
        binary = find_anvil(self.anvil_path)
        port = _free_port()
        process = await asyncio.create_subprocess_exec(
            binary,
            "--fork-url",
            upstream,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--auto-impersonate",  # any sender may be simulated; nothing is signed
            "--block-base-fee-per-gas",
            "0",  # gas is free on the fork: a simulation tests the calls, not the sender's gas money
            "--quiet",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        fork = Fork(chain_id, upstream, f"http://127.0.0.1:{port}", process, self._http)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_SECONDS
        while loop.time() < deadline:
            if process.returncode is not None:
                err = (await process.stderr.read()).decode(errors="replace")[-300:] if process.stderr else ""
                raise ChainUnavailable(
                    f"the simulation fork of {describe(chain_id)} did not start: {err.strip()}"
                )
            try:
                await fork.rpc("eth_chainId", [])
                log.info("started an Anvil fork of %s on port %d", describe(chain_id), port)
                return fork
            except (ChainUnavailable, ForkRpcError):
                await asyncio.sleep(0.05)
        await self._stop(fork)
        raise ChainUnavailable(f"the simulation fork of {describe(chain_id)} did not start in time")

    async def _stop(self, fork: Fork) -> None:
        if fork.process.returncode is None:
            fork.process.terminate()
            try:
                await asyncio.wait_for(fork.process.wait(), 5)
            except TimeoutError:
                fork.process.kill()
                await fork.process.wait()

    def __len__(self) -> int:
        return len(self._forks)

    async def aclose(self) -> None:
        for fork in list(self._forks.values()):
            await self._stop(fork)
        self._forks.clear()
        await self._http.aclose()
