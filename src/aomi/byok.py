"""Bring-your-own LLM keys (SPEC 4.5): one key per owner and provider, encrypted at rest.

The owner is the session's client id, or ``session:<id>`` for a session without one
(`owner_of`). Only the ciphertext and a short display prefix reach the database; the plaintext
leaves this module only through `ProviderKeys.opened` (a turn's key, read sealed in the turn's
claiming transaction) and `ProviderKeys.key_for` (the same by owner).
"""

from __future__ import annotations

import builtins
import logging
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from aomi.agent.specs import PROVIDER_NAMES
from aomi.crypto import Sealer, UnsealError
from aomi.db.tables import provider_keys
from aomi.errors import InvalidInput
from aomi.sessions.model import Session, session_owner
from aomi.timeutil import now_ms
from aomi.validation import check_text

log = logging.getLogger("aomi.byok")

SEALER_PURPOSE = "provider-keys"
API_KEY_MAX = 500
LABEL_MAX = 200
PREFIX_CHARS = 7
# Visible ASCII: every provider's keys are, and anything else would break the HTTP header the
# key travels in. Surrounding blanks (a pasted newline) are trimmed, not refused.
API_KEY_PATTERN = r"^[ \t\r\n]*[\x21-\x7e]+[ \t\r\n]*$"
_API_KEY_RE = re.compile(API_KEY_PATTERN.removeprefix("^").removesuffix("$"))
_BLANKS = " \t\r\n"


def owner_of(s: Session) -> str:
    """Whose BYOK keys a session uses: its client id, else the session itself."""
    return s.client_id or session_owner(s.id)


def key_prefix(api_key: str) -> str:
    """The first characters of a key, for recognizing it: 7 at most, never more than a third of
    the key (``sk-ant-`` of ``sk-ant-api03-...``). Never enough to use it."""
    return api_key[: min(PREFIX_CHARS, len(api_key) // 3)]


def check_provider(provider: str) -> str:
    if provider not in PROVIDER_NAMES:
        known = ", ".join(PROVIDER_NAMES)
        raise InvalidInput(f"unknown provider {provider[:64]!r}: use one of {known}")
    return provider


def check_api_key(api_key: str) -> str:
    """The key without surrounding blanks; `InvalidInput` (never quoting the key) otherwise."""
    if len(api_key) > API_KEY_MAX:
        raise InvalidInput(f"api_key is {len(api_key)} characters long; the limit is {API_KEY_MAX}")
    if not api_key.strip(_BLANKS):
        raise InvalidInput("api_key is required and must not be empty")
    if _API_KEY_RE.fullmatch(api_key) is None:
        raise InvalidInput("api_key must be printable ASCII without spaces inside (as providers issue them)")
    return api_key.strip(_BLANKS)


def check_label(label: str | None) -> str | None:
    """The label trimmed; a blank label is no label."""
    if label is None:
        return None
    if len(label) > LABEL_MAX:
        raise InvalidInput(f"label is {len(label)} characters long; the limit is {LABEL_MAX}")
    return check_text(label, "label").strip() or None


@dataclass(frozen=True)
class ProviderKeyEntry:
    """A saved key as clients see it (`AomiProviderKeyEntry`): never the key itself."""

    provider: str
    key_prefix: str
    label: str | None
    is_active: bool
    """The key opens under the server's secret (false after `AOMI_SECRET_KEY` changed)."""
    created_ms: int
    updated_ms: int

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "key_prefix": self.key_prefix,
            "label": self.label,
            "is_active": self.is_active,
        }


@dataclass(frozen=True)
class StoredKey:
    owner: str
    provider: str
    key_prefix: str
    label: str | None
    ciphertext: str
    created_ms: int
    updated_ms: int


def _stored(row: Row[Any]) -> StoredKey:
    m = row._mapping
    return StoredKey(
        owner=m["owner"],
        provider=m["provider"],
        key_prefix=m["key_prefix"],
        label=m["label"],
        ciphertext=m["ciphertext"],
        created_ms=m["created_ms"],
        updated_ms=m["updated_ms"],
    )


class ProviderKeyStore:
    """The `provider_keys` table. Holds ciphertext only; knows nothing of encryption."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def upsert(
        self, owner: str, provider: str, prefix: str, label: str | None, ciphertext: str, now: int
    ) -> StoredKey:
        """Insert, or replace the owner's key for the provider (keeping its creation time)."""
        insert = self._insert(provider_keys).values(
            owner=owner,
            provider=provider,
            key_prefix=prefix,
            label=label,
            ciphertext=ciphertext,
            created_ms=now,
            updated_ms=now,
        )
        stmt = insert.on_conflict_do_update(
            index_elements=["owner", "provider"],
            set_={"key_prefix": prefix, "label": label, "ciphertext": ciphertext, "updated_ms": now},
        ).returning(*provider_keys.c)
        async with self.engine.begin() as conn:
            row = (await conn.execute(stmt)).one()
        return _stored(row)

    async def get(self, owner: str, provider: str) -> StoredKey | None:
        c = provider_keys.c
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(provider_keys).where(c.owner == owner, c.provider == provider))
            ).first()
        return _stored(row) if row is not None else None

    async def list(self, owner: str) -> builtins.list[StoredKey]:
        """The owner's keys, by provider name."""
        c = provider_keys.c
        query = select(provider_keys).where(c.owner == owner).order_by(c.provider)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_stored(row) for row in rows]

    async def delete(self, owner: str, provider: str) -> bool:
        c = provider_keys.c
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(provider_keys).where(c.owner == owner, c.provider == provider))
        return bool(result.rowcount)


class ProviderKeys:
    """The BYOK service: validates, encrypts and decrypts; the only user of `ProviderKeyStore`."""

    def __init__(self, store: ProviderKeyStore, sealer: Sealer) -> None:
        self.store = store
        self.sealer = sealer

    def opened(self, provider: str, ciphertext: str) -> str | None:
        """A sealed key in plaintext; None (logged, never fatal) when it no longer decrypts."""
        try:
            return self.sealer.open(ciphertext)
        except UnsealError:
            log.warning(
                "a saved %s key cannot be decrypted (AOMI_SECRET_KEY changed?); it is ignored "
                "until its owner saves it again",
                provider,
            )
            return None

    def _opens(self, stored: StoredKey) -> str | None:
        return self.opened(stored.provider, stored.ciphertext)

    def _entry(self, stored: StoredKey, active: bool) -> ProviderKeyEntry:
        return ProviderKeyEntry(
            provider=stored.provider,
            key_prefix=stored.key_prefix,
            label=stored.label,
            is_active=active,
            created_ms=stored.created_ms,
            updated_ms=stored.updated_ms,
        )

    async def save(self, owner: str, provider: str, api_key: str, label: str | None) -> ProviderKeyEntry:
        """Save the owner's key for the provider, replacing the one saved before."""
        provider = check_provider(provider)
        api_key = check_api_key(api_key)
        label = check_label(label)
        stored = await self.store.upsert(
            owner, provider, key_prefix(api_key), label, self.sealer.seal(api_key), now_ms()
        )
        return self._entry(stored, True)

    async def list(self, owner: str) -> builtins.list[ProviderKeyEntry]:
        return [self._entry(s, self._opens(s) is not None) for s in await self.store.list(owner)]

    async def delete(self, owner: str, provider: str) -> bool:
        """Delete the owner's key for the provider; False when there was none."""
        return await self.store.delete(owner, check_provider(provider))

    async def key_for(self, owner: str, provider: str) -> str | None:
        """The owner's plaintext key for the provider, for the turn runner; None when there is none
        (or it no longer decrypts)."""
        stored = await self.store.get(owner, provider)
        return self._opens(stored) if stored is not None else None

    async def providers(self, owner: str) -> set[str]:
        """The providers this owner holds a usable key for."""
        return {s.provider for s in await self.store.list(owner) if self._opens(s) is not None}
