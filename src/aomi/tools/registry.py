"""The built-in tools, by the name App manifests use for them."""

from __future__ import annotations

from pydantic_ai import Tool

from aomi.agent.deps import TurnDeps
from aomi.apps.app import App
from aomi.tools.prices import get_token_price

BUILTIN_TOOLS: dict[str, Tool[TurnDeps]] = {
    "get_token_price": Tool(get_token_price, takes_ctx=True, name="get_token_price"),
}


def tools_for(app: App) -> list[Tool[TurnDeps]]:
    """The App's tools, in manifest order. Manifests are validated at load, so every name exists."""
    return [BUILTIN_TOOLS[name] for name in app.tools]
