"""What a tool sees of the turn it runs in (``ctx.deps``). App authors' Python tools take a
`RunContext[TurnDeps]` (`aomi.tools.context.ToolContext`) as their first parameter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx
from pydantic_ai.messages import ModelMessage

from aomi.apps.app import App
from aomi.chain.kit import ChainKit
from aomi.docs.service import Documents
from aomi.secrets import AppSecrets
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
    client_id: str | None = None
    """The session's client id: whose client secrets (`POST /api/secrets`) the App's slots read."""
    secrets: AppSecrets | None = None
    documents: Documents | None = None
    """The App documents service, for `search_docs`."""
    _resolved: dict[str, str] | None = field(default=None, repr=False)

    async def secret(self, name: str) -> str:
        """The value of one of the App's secret slots, resolved on first use inside a tool call.
        `MissingSecret` (naming the slot and who sets it) when it is not set or not declared."""
        resolved = await self.resolved_secrets()
        return AppSecrets.require(self.app, resolved, name)

    async def resolved_secrets(self) -> dict[str, str]:
        if self._resolved is None:
            secrets = self.secrets
            self._resolved = {} if secrets is None else await secrets.resolve(self.app, self.client_id)
        return self._resolved

    def redact(self, text: str) -> str:
        """``text`` with every secret value this turn resolved replaced by `[secret NAME]`."""
        for name, value in (self._resolved or {}).items():
            if value and value in text:
                text = text.replace(value, f"[secret {name}]")
        return text
