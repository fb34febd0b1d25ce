"""What a tool sees of the turn it runs in (``ctx.deps``)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from aomi.apps.app import App
from aomi.settings import Settings


@dataclass
class TurnDeps:
    app: App
    session_id: str
    settings: Settings
    http: httpx.AsyncClient
    """Shared client for outgoing tool HTTP calls (connection pooling across turns)."""
    wallet_address: str | None = None
    chain_id: int | None = None
