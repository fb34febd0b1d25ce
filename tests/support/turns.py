"""Helpers to build the turn context tools and agents need in tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from aomi.agent.deps import TurnDeps
from aomi.apps.app import App
from aomi.apps.registry import default_app
from aomi.chain.kit import ChainKit
from aomi.settings import Settings


def make_settings(tmp_path: Path, price_api_url: str, tool_timeout_seconds: float = 5.0) -> Settings:
    return Settings(
        data_dir=tmp_path,
        apps_dir=tmp_path / "apps",
        price_api_url=price_api_url,
        tool_timeout_seconds=tool_timeout_seconds,
    )


@asynccontextmanager
async def turn_deps(
    settings: Settings,
    app: App | None = None,
    *,
    wallet_address: str | None = None,
    chain_id: int | None = None,
) -> AsyncIterator[TurnDeps]:
    """TurnDeps with a real httpx client and chain clients from ``settings``, closed afterwards."""
    chain = ChainKit.from_settings(settings)
    try:
        async with httpx.AsyncClient() as http:
            yield TurnDeps(
                app=app or default_app(),
                session_id="test-session",
                settings=settings,
                http=http,
                chain=chain,
                wallet_address=wallet_address,
                chain_id=chain_id,
            )
    finally:
        await chain.aclose()
