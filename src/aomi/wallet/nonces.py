"""Sign-In with Ethereum nonces in the database: single use, short-lived, seen by every replica."""

from __future__ import annotations

import secrets

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine

from aomi.db.tables import wallet_nonces
from aomi.timeutil import now_ms


class NonceStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def issue(self, ttl_ms: int) -> str:
        """A new nonce (32 hex characters: EIP-4361 wants at least 8 alphanumerics); expired ones go."""
        nonce = secrets.token_hex(16)
        now = now_ms()
        async with self._engine.begin() as conn:
            await conn.execute(delete(wallet_nonces).where(wallet_nonces.c.expires_ms < now))
            await conn.execute(wallet_nonces.insert().values(nonce=nonce, expires_ms=now + ttl_ms))
        return nonce

    async def consume(self, nonce: str) -> bool:
        """Use a nonce up; False when it is unknown, already used or expired."""
        now = now_ms()
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(wallet_nonces)
                .where(
                    wallet_nonces.c.nonce == nonce,
                    wallet_nonces.c.used_ms.is_(None),
                    wallet_nonces.c.expires_ms > now,
                )
                .values(used_ms=now)
            )
        return bool(result.rowcount)
