"""Settings that point the server's chain tools at the test chain (see `tests.support.anvil`)."""

from __future__ import annotations

from typing import Any

from aomi.settings import Settings
from tests.support.anvil import ChainFixture


def chain_overrides(fx: ChainFixture) -> dict[str, Any]:
    """The chain settings for the fixture's node: its RPC, the default chain, its ENS and token."""
    return {
        "rpc_urls": f"{fx.chain_id}={fx.url}",
        "default_chain_id": fx.chain_id,
        "ens_registries": f"{fx.chain_id}={fx.ens_registry}",
        "tokens": f"{fx.chain_id}:{fx.token_symbol}={fx.token}",
    }


def on_chain(settings: Settings, fx: ChainFixture, **more: Any) -> Settings:
    return settings.model_copy(update={**chain_overrides(fx), **more})


def chain_env(fx: ChainFixture) -> dict[str, str]:
    """The same as environment variables, for a server process."""
    return {f"AOMI_{name.upper()}": str(value) for name, value in chain_overrides(fx).items()}
