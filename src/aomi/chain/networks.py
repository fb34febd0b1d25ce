"""The chains the server can read: one JSON-RPC endpoint per chain id (`AOMI_RPC_URLS`), one
reused `AsyncWeb3` client per chain, and the errors callers see when a chain is unknown or its
RPC fails."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

import aiohttp
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import ProviderConnectionError, TimeExhausted, TransactionNotFound, Web3RPCError

from aomi.chain.addresses import chain_name, normalize_address
from aomi.errors import ChainConfigError, ChainUnavailable, InvalidAddress, UnknownChain

T = TypeVar("T")
W3 = AsyncWeb3[AsyncHTTPProvider]


def _pairs(text: str, setting: str) -> list[tuple[str, str]]:
    pairs = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        key, sep, value = entry.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ChainConfigError(f"{setting}: entry {entry!r} is not of the form key=value")
        pairs.append((key.strip(), value.strip()))
    return pairs


def _chain_id(text: str, setting: str) -> int:
    try:
        chain_id = int(text, 10)
    except ValueError:
        raise ChainConfigError(f"{setting}: {text!r} is not a chain id (a decimal number)") from None
    if chain_id <= 0:
        raise ChainConfigError(f"{setting}: chain id {chain_id} must be positive")
    return chain_id


def parse_rpc_urls(text: str) -> dict[int, str]:
    """`1=https://...,8453=https://...` -> {1: url, 8453: url}; ChainConfigError naming the bad entry."""
    urls: dict[int, str] = {}
    for key, url in _pairs(text, "AOMI_RPC_URLS"):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ChainConfigError(f"AOMI_RPC_URLS: {url!r} is not an http(s) URL")
        urls[_chain_id(key, "AOMI_RPC_URLS")] = url
    return urls


def parse_chain_addresses(text: str, setting: str) -> dict[int, str]:
    """`31337=0x...` pairs -> {chain id: checksummed address}."""
    found: dict[int, str] = {}
    for key, value in _pairs(text, setting):
        try:
            found[_chain_id(key, setting)] = normalize_address(value)
        except InvalidAddress as exc:
            raise ChainConfigError(f"{setting}: {exc.message}") from None
    return found


def describe(chain_id: int) -> str:
    """`Base (chain 8453)`."""
    return f"{chain_name(chain_id)} (chain {chain_id})"


def _cause(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | TimeExhausted):
        return "it did not answer in time"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"it answered HTTP {exc.status}"
    if isinstance(exc, aiohttp.ClientError | OSError):
        return "it could not be reached"
    if isinstance(exc, Web3RPCError):
        return f"it answered with an error: {exc.message or exc}"
    return f"{type(exc).__name__}: {exc}"


class Chains:
    """Per-chain clients, built on first use and reused (each holds a connection pool)."""

    def __init__(self, rpc_urls: Mapping[int, str], default_chain_id: int, timeout_seconds: float) -> None:
        self.rpc_urls = dict(rpc_urls)
        self.default_chain_id = default_chain_id
        self.timeout_seconds = timeout_seconds
        self._clients: dict[int, W3] = {}

    def chain_for(self, requested: int | None, session_chain: int | None) -> int:
        """The chain a call uses: the one asked for, else the session's, else the default."""
        for chain_id in (requested, session_chain):
            if chain_id is not None:
                if chain_id <= 0:
                    raise UnknownChain(f"chain id {chain_id} is not valid (chain ids are positive)")
                return chain_id
        return self.default_chain_id

    def rpc_url(self, chain_id: int) -> str:
        url = self.rpc_urls.get(chain_id)
        if url is None:
            known = ", ".join(describe(c) for c in sorted(self.rpc_urls)) or "none"
            raise UnknownChain(
                f"no RPC endpoint is configured for {describe(chain_id)}; configured chains: {known} "
                "(the operator sets them with AOMI_RPC_URLS)"
            )
        return url

    def client(self, chain_id: int) -> W3:
        w3 = self._clients.get(chain_id)
        if w3 is None:
            provider = AsyncHTTPProvider(
                self.rpc_url(chain_id),
                request_kwargs={"timeout": aiohttp.ClientTimeout(total=self.timeout_seconds)},
                exception_retry_configuration=None,  # fail fast: the caller reports the outage
            )
            w3 = AsyncWeb3(provider)
            self._clients[chain_id] = w3
        return w3

    async def read(self, chain_id: int, call: Callable[[W3], Awaitable[T]]) -> T:
        """Run ``call`` against the chain's client; an RPC failure becomes `ChainUnavailable`
        (reverts and other answers of the chain itself pass through for the caller to word)."""
        w3 = self.client(chain_id)
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return await call(w3)
        except TransactionNotFound:
            raise
        except (TimeoutError, aiohttp.ClientError, OSError, ProviderConnectionError, Web3RPCError) as exc:
            raise ChainUnavailable(f"the RPC of {describe(chain_id)} failed: {_cause(exc)}") from None

    async def aclose(self) -> None:
        for w3 in self._clients.values():
            with contextlib.suppress(Exception):
                await w3.provider.disconnect()
        self._clients.clear()
