"""The server's long-lived services, wired once in the lifespan and shared by the routers."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from aomi.agent.runner import TurnRunner
from aomi.api.auth import Authorizer
from aomi.apps.registry import AppRegistry
from aomi.byok import ProviderKeys
from aomi.chain.forks import ForkPool
from aomi.chain.kit import ChainKit
from aomi.docs.service import Documents
from aomi.keys.store import KeyStore
from aomi.keys.verify import KeyVerifier
from aomi.metrics import Metrics
from aomi.secrets import ClientSecrets
from aomi.sessions.manager import SessionManager
from aomi.sessions.service import SessionService
from aomi.settings import Settings
from aomi.usage import UsageStore
from aomi.wallet.proof import WalletProofs


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    apps: AppRegistry
    keys: KeyStore
    verifier: KeyVerifier
    auth: Authorizer
    manager: SessionManager
    runner: TurnRunner
    http: httpx.AsyncClient
    wallet: WalletProofs
    sessions: SessionService
    schema_revision: str
    """The migration revision this code expects (`/ready` checks the database holds it)."""
    provider_keys: ProviderKeys
    usage: UsageStore
    chain: ChainKit
    forks: ForkPool
    """Anvil forks for `POST /api/simulate`."""
    secrets: ClientSecrets
    documents: Documents
    metrics: Metrics
