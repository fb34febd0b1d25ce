"""The chain services tools use, built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from aomi.chain.ens import Ens
from aomi.chain.networks import Chains, parse_chain_addresses, parse_rpc_urls
from aomi.chain.tokens import TokenBook, parse_token_setting
from aomi.settings import Settings


@dataclass
class ChainKit:
    chains: Chains
    ens: Ens
    tokens: TokenBook

    @classmethod
    def from_settings(cls, settings: Settings) -> ChainKit:
        """ChainConfigError naming the setting when one is malformed."""
        chains = Chains(
            parse_rpc_urls(settings.rpc_urls), settings.default_chain_id, settings.rpc_timeout_seconds
        )
        ens = Ens(chains, parse_chain_addresses(settings.ens_registries, "AOMI_ENS_REGISTRIES"))
        return cls(chains, ens, TokenBook(parse_token_setting(settings.tokens)))

    async def aclose(self) -> None:
        await self.chains.aclose()
