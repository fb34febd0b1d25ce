"""What a tool sees of the turn it runs in (``ctx.deps``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx
from pydantic_ai.messages import ModelMessage

from aomi.apps.app import App
from aomi.chain.kit import ChainKit
from aomi.settings import Settings


@dataclass
class TurnDeps:
    app: App
    session_id: str
    settings: Settings
    http: httpx.AsyncClient
    """Shared client for outgoing tool HTTP calls (connection pooling across turns)."""
    chain: ChainKit
    """Chain clients, ENS and known tokens, for the chain and wallet tools."""
    wallet_address: str | None = None
    chain_id: int | None = None
    checkpoint: Callable[[Sequence[ModelMessage]], Awaitable[None]] | None = None
    """The runner's hook that stores the history before each model request (not for tools)."""
