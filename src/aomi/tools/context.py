"""What an App's Python tool imports: the context type of its first parameter.

from aomi.tools.context import ToolContext

async def lookup(ctx: ToolContext, symbol: str) -> str:
    key = await ctx.deps.secret("API_KEY")   # a declared [[secrets]] slot
    wallet = ctx.deps.wallet_address         # the session's wallet, or None
    ...
"""

from __future__ import annotations

from pydantic_ai import RunContext

from aomi.agent.deps import TurnDeps

ToolContext = RunContext[TurnDeps]

__all__ = ["ToolContext", "TurnDeps"]
