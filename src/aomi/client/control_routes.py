"""Control (SPEC 4.5): Apps, models, provider keys, secrets, simulation; and the wallet proof."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter

from aomi.client.models import (
    AppDetail,
    Cleared,
    Deleted,
    ModelSet,
    Nonce,
    ProviderKey,
    ProviderKeys,
    SavedProviderKey,
    SecretHandles,
    Simulation,
    SimulationResult,
    Transaction,
    WalletToken,
)
from aomi.client.transport import Routes, api_path

_NAMES = TypeAdapter(list[str])
_DETAILS = TypeAdapter(list[AppDetail])


class ControlRoutes(Routes):
    async def get_apps(self) -> list[str]:
        """`GET /api/control/apps`: the Apps this caller may use, `default` first."""
        return _NAMES.validate_python(await self.transport.json("GET", "/api/control/apps"))

    async def get_app_details(self) -> list[AppDetail]:
        """`GET /api/control/apps?detail=true`: name, description, models and secret slots."""
        data = await self.transport.json("GET", "/api/control/apps", params={"detail": "true"})
        return _DETAILS.validate_python(data)

    async def get_namespaces(self) -> list[str]:
        """`GET /api/control/namespaces`: the alias of `get_apps`."""
        return _NAMES.validate_python(await self.transport.json("GET", "/api/control/namespaces"))

    async def get_models(self, *, app: str | None = None, session_id: str | None = None) -> list[str]:
        """`GET /api/control/models`: the App's model labels (this session's App without ``app``)."""
        data = await self.transport.json("GET", "/api/control/models", session_id=session_id, app=app)
        return _NAMES.validate_python(data)

    async def set_model(
        self, session_id: str, rig: str, *, app: str | None = None, client_id: str | None = None
    ) -> ModelSet:
        """`POST /api/control/model`: the session's model from its next turn."""
        data = await self.transport.json(
            "POST",
            "/api/control/model",
            session_id=session_id,
            app=app,
            params={"rig": rig, "client_id": client_id},
        )
        return ModelSet.model_validate(data)

    async def list_provider_keys(self, session_id: str, *, app: str | None = None) -> list[ProviderKey]:
        """`GET /api/control/provider-keys`: the session client's own LLM keys (prefixes only)."""
        data = await self.transport.json("GET", "/api/control/provider-keys", session_id=session_id, app=app)
        return ProviderKeys.model_validate(data).provider_keys

    async def save_provider_key(
        self, sid: str, provider: str, api_key: str, label: str | None = None
    ) -> ProviderKey:
        """`POST /api/control/provider-keys`: save (or replace) the client's key for a provider
        (a session not created yet is taken as the client's default App's)."""
        body = {"provider": provider, "api_key": api_key, **({"label": label} if label is not None else {})}
        data = await self.transport.json("POST", "/api/control/provider-keys", session_id=sid, body=body)
        return SavedProviderKey.model_validate(data).key

    async def delete_provider_key(self, session_id: str, provider: str, *, app: str | None = None) -> bool:
        """`DELETE /api/control/provider-keys/{provider}`: whether a key was deleted."""
        path = api_path("api", "control", "provider-keys", provider)
        data = await self.transport.json("DELETE", path, session_id=session_id, app=app)
        return Deleted.model_validate(data).deleted

    async def wallet_nonce(self) -> str:
        """`POST /api/wallet/nonce`: a single-use nonce for a Sign-In with Ethereum message."""
        return Nonce.model_validate(await self.transport.json("POST", "/api/wallet/nonce")).nonce

    async def wallet_verify(self, message: str, signature: str) -> WalletToken:
        """`POST /api/wallet/verify`: a signed EIP-4361 message for a short-lived wallet token."""
        body = {"message": message, "signature": signature}
        return WalletToken.model_validate(await self.transport.json("POST", "/api/wallet/verify", body=body))

    async def simulate_batch(
        self,
        transactions: Sequence[Transaction | dict[str, Any]],
        *,
        session_id: str | None = None,
        sender: str | None = None,
        chain_id: int | str | None = None,
        app: str | None = None,
    ) -> Simulation:
        """`POST /api/simulate`: run the transactions in order on a fork; nothing reaches the chain."""
        txs = [(Transaction.model_validate(tx) if isinstance(tx, dict) else tx) for tx in transactions]
        body: dict[str, Any] = {"transactions": [tx.model_dump(exclude_none=True) for tx in txs]}
        body.update({k: v for k, v in (("from", sender), ("chain_id", chain_id)) if v is not None})
        data = await self.transport.json("POST", "/api/simulate", session_id=session_id, app=app, body=body)
        return SimulationResult.model_validate(data).result

    async def ingest_secrets(self, client_id: str, secrets: dict[str, str]) -> dict[str, str]:
        """`POST /api/secrets`: store the client's secrets → `{NAME: "$SECRET:NAME"}` handles."""
        body = {"client_id": client_id, "secrets": secrets}
        return SecretHandles.model_validate(
            await self.transport.json("POST", "/api/secrets", body=body)
        ).handles

    async def clear_secrets(self, client_id: str) -> bool:
        """`DELETE /api/secrets`: every secret of the client."""
        data = await self.transport.json("DELETE", "/api/secrets", params={"client_id": client_id})
        return Cleared.model_validate(data).cleared

    async def delete_secret(self, client_id: str, name: str) -> bool:
        """`DELETE /api/secrets/{name}`: whether the client had that secret."""
        data = await self.transport.json(
            "DELETE", api_path("api", "secrets", name), params={"client_id": client_id}
        )
        return Deleted.model_validate(data).deleted
