"""Durable App keys: only the HMAC hash and a short display prefix reach the database."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aomi.db.notify import notify
from aomi.db.tables import app_key_scopes, app_keys
from aomi.errors import InvalidInput, KeyNotFound
from aomi.keys.generate import (
    display_prefix,
    generate_key,
    hash_key,
    slug_of_prefix,
    validate_import_key,
    validate_slug,
)
from aomi.timeutil import iso_ms, now_ms

_APP_NAME_MAX = 64
_LABEL_MAX = 200
_AMBIGUOUS_SHOWN = 5


@dataclass(frozen=True)
class KeyRecord:
    id: str
    prefix: str
    label: str | None
    apps: frozenset[str]
    created_ms: int
    expires_ms: int | None
    revoked_ms: int | None
    last_used_ms: int | None

    def is_active(self, now_ms: int) -> bool:
        return self.revoked_ms is None and (self.expires_ms is None or now_ms < self.expires_ms)

    def status(self, now_ms: int) -> str:
        """``active``, ``revoked`` or ``expired`` (revocation wins)."""
        if self.revoked_ms is not None:
            return "revoked"
        return "active" if self.is_active(now_ms) else "expired"

    def to_json(self, now_ms: int) -> dict[str, Any]:
        """The key as JSON (CLI and admin API): never the key itself, never its hash."""
        return {
            "id": self.id,
            "prefix": self.prefix,
            "label": self.label,
            "apps": sorted(self.apps),
            "created_at": _iso(self.created_ms),
            "expires_at": _iso(self.expires_ms),
            "last_used_at": _iso(self.last_used_ms),
            "revoked_at": _iso(self.revoked_ms),
            "status": self.status(now_ms),
        }


def _iso(ms: int | None) -> str | None:
    return iso_ms(ms) if ms is not None else None


@dataclass(frozen=True)
class IssuedKey:
    record: KeyRecord
    key: str  # the plaintext: shown once at issue, never stored


def default_slug(app: str) -> str:
    """The first three ASCII letters of the App name (``mycoindex`` -> ``myc``), else ``app``."""
    letters = [ch for ch in app.lower() if "a" <= ch <= "z"]
    return "".join(letters[:3]) or "app"


def _check_apps(apps: Sequence[str]) -> frozenset[str]:
    if isinstance(apps, str):  # a bare string is a Sequence too: "abc" is not three Apps
        raise InvalidInput("apps must be a list of App names")
    if not apps:
        raise InvalidInput("a key needs at least one App")
    for app in apps:
        if not app or len(app) > _APP_NAME_MAX:
            raise InvalidInput(f"invalid App name {app!r}: 1 to {_APP_NAME_MAX} characters")
    return frozenset(apps)


class KeyStore:
    """App keys in the database. ``secret`` is the HMAC key used to hash them."""

    def __init__(self, engine: AsyncEngine, secret: bytes) -> None:
        self._engine = engine
        self._secret = secret

    async def create(
        self,
        apps: Sequence[str],
        *,
        label: str | None = None,
        slug: str | None = None,
        expires_ms: int | None = None,
        import_key: str | None = None,
    ) -> IssuedKey:
        """Issue a new key (or register ``import_key``) scoped to ``apps``."""
        scopes = _check_apps(apps)
        if label is not None and len(label) > _LABEL_MAX:
            raise InvalidInput(f"the label is too long: at most {_LABEL_MAX} characters")
        if import_key is not None:
            if slug is not None:
                raise InvalidInput("a slug cannot be chosen for an imported key")
            key = validate_import_key(import_key)
        else:
            key = generate_key(validate_slug(slug) if slug is not None else default_slug(apps[0]))
        issued = self._new(key, scopes, label, expires_ms)
        try:
            async with self._engine.begin() as conn:
                if import_key is not None and await self._id_by_hash(conn, hash_key(self._secret, key)):
                    raise InvalidInput("this key is already registered")
                await self._insert(conn, issued)
        except IntegrityError as exc:
            # Two concurrent imports of one key: the unique hash index lets exactly one win.
            raise InvalidInput("this key is already registered") from exc
        return issued

    def _new(self, key: str, scopes: frozenset[str], label: str | None, expires_ms: int | None) -> IssuedKey:
        record = KeyRecord(
            id=uuid.uuid4().hex,
            prefix=display_prefix(key),
            label=label,
            apps=scopes,
            created_ms=now_ms(),
            expires_ms=expires_ms,
            revoked_ms=None,
            last_used_ms=None,
        )
        return IssuedKey(record=record, key=key)

    async def _insert(self, conn: AsyncConnection, issued: IssuedKey) -> None:
        record = issued.record
        await conn.execute(
            app_keys.insert().values(
                id=record.id,
                prefix=record.prefix,
                key_hash=hash_key(self._secret, issued.key),
                label=record.label,
                created_ms=record.created_ms,
                expires_ms=record.expires_ms,
            )
        )
        await conn.execute(
            app_key_scopes.insert(), [{"key_id": record.id, "app": app} for app in sorted(record.apps)]
        )

    async def rotate(self, id_or_prefix: str, *, grace_ms: int) -> tuple[IssuedKey, KeyRecord]:
        """A new key for the same Apps, label, slug and expiry (SPEC 2.2); the old one keeps working
        until ``grace_ms`` from now (or its own earlier expiry), then stops. Both in one transaction.
        The new key and the old key's record as it now is."""
        old = await self.resolve(id_or_prefix)
        now = now_ms()
        if old.revoked_ms is not None:
            raise InvalidInput(f"key {old.id} ({old.prefix}) is revoked: issue a new key instead")
        if not old.is_active(now):
            raise InvalidInput(f"key {old.id} ({old.prefix}) has expired: issue a new key instead")
        deadline = now + grace_ms
        slug = slug_of_prefix(old.prefix) or default_slug(min(old.apps))
        issued = self._new(generate_key(slug), old.apps, old.label, old.expires_ms)
        async with self._engine.begin() as conn:
            await self._insert(conn, issued)
            await self._expire(conn, old.id, deadline, only_earlier=True)
        return issued, await self.resolve(old.id)

    async def set_expiry(self, id_or_prefix: str, expires_ms: int | None) -> KeyRecord:
        """Set (or, with None, clear) a key's expiry; a revoked key stays revoked."""
        record = await self.resolve(id_or_prefix)
        async with self._engine.begin() as conn:
            await self._expire(conn, record.id, expires_ms, only_earlier=False)
        return await self.resolve(record.id)

    @staticmethod
    async def _expire(
        conn: AsyncConnection, key_id: str, expires_ms: int | None, *, only_earlier: bool
    ) -> None:
        stmt = update(app_keys).where(app_keys.c.id == key_id)
        if only_earlier and expires_ms is not None:
            stmt = stmt.where(or_(app_keys.c.expires_ms.is_(None), app_keys.c.expires_ms > expires_ms))
        await conn.execute(stmt.values(expires_ms=expires_ms))
        await notify(conn, "key", key_id)  # every replica drops its cached copy (PostgreSQL)

    async def list(self) -> list[KeyRecord]:
        """Every key, newest first."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(select(app_keys).order_by(app_keys.c.created_ms.desc(), app_keys.c.id))
            ).all()
            return await self._records(conn, rows)

    async def find_by_hash(self, key_hash: str) -> KeyRecord | None:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(app_keys).where(app_keys.c.key_hash == key_hash))).all()
            records = await self._records(conn, rows)
        return records[0] if records else None

    async def resolve(self, id_or_prefix: str) -> KeyRecord:
        """The key with this id, this full key string, or the only one whose id or prefix starts so."""
        needle = id_or_prefix.strip()
        if not needle:
            raise KeyNotFound("no key matches ''")
        shown_needle = needle if len(needle) <= 32 else needle[:12] + "..."  # may be a full key
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(app_keys).where(app_keys.c.id == needle))).all()
            if not rows:
                by_hash = app_keys.c.key_hash == hash_key(self._secret, needle)
                rows = (await conn.execute(select(app_keys).where(by_hash))).all()
            if not rows:
                starts = or_(
                    app_keys.c.id.startswith(needle, autoescape=True),
                    app_keys.c.prefix.startswith(needle, autoescape=True),
                )
                stmt = select(app_keys).where(starts).order_by(app_keys.c.created_ms.desc())
                rows = (await conn.execute(stmt)).all()
            records = await self._records(conn, rows)
        if not records:
            raise KeyNotFound(f"no key matches {shown_needle!r}")
        if len(records) > 1:
            shown = ", ".join(f"{r.id} ({r.prefix})" for r in records[:_AMBIGUOUS_SHOWN])
            more = f" and {len(records) - _AMBIGUOUS_SHOWN} more" if len(records) > _AMBIGUOUS_SHOWN else ""
            raise InvalidInput(
                f"{shown_needle!r} matches {len(records)} keys: {shown}{more}; give more characters"
            )
        return records[0]

    async def revoke(self, id_or_prefix: str) -> KeyRecord:
        """Revoke a key now; revoking it again keeps the first revocation time."""
        record = await self.resolve(id_or_prefix)
        async with self._engine.begin() as conn:
            await conn.execute(
                update(app_keys)
                .where(app_keys.c.id == record.id, app_keys.c.revoked_ms.is_(None))
                .values(revoked_ms=now_ms())
            )
            await notify(conn, "key", record.id)  # every replica forgets it at once (PostgreSQL)
        return await self.resolve(record.id)

    async def touch_last_used(self, ids_to_ms: Mapping[str, int]) -> None:
        """Record last use times in one transaction; a time never moves backwards."""
        if not ids_to_ms:
            return
        stmt = (
            update(app_keys)
            .where(
                app_keys.c.id == bindparam("b_id"),
                or_(app_keys.c.last_used_ms.is_(None), app_keys.c.last_used_ms < bindparam("b_ms")),
            )
            .values(last_used_ms=bindparam("b_ms"))
        )
        params = [{"b_id": key_id, "b_ms": ms} for key_id, ms in sorted(ids_to_ms.items())]
        async with self._engine.begin() as conn:
            await conn.execute(stmt, params)

    @staticmethod
    async def _id_by_hash(conn: AsyncConnection, key_hash: str) -> str | None:
        found = await conn.scalar(select(app_keys.c.id).where(app_keys.c.key_hash == key_hash))
        return str(found) if found is not None else None

    @staticmethod
    async def _records(
        conn: AsyncConnection, rows: Sequence[Row[tuple[object, ...]]]
    ) -> builtins.list[KeyRecord]:
        if not rows:
            return []
        ids = [row._mapping["id"] for row in rows]
        scope_rows = await conn.execute(
            select(app_key_scopes.c.key_id, app_key_scopes.c.app).where(app_key_scopes.c.key_id.in_(ids))
        )
        scopes: dict[str, set[str]] = {}
        for key_id, app in scope_rows:
            scopes.setdefault(key_id, set()).add(app)
        return [
            KeyRecord(
                id=m["id"],
                prefix=m["prefix"],
                label=m["label"],
                apps=frozenset(scopes.get(m["id"], ())),
                created_ms=m["created_ms"],
                expires_ms=m["expires_ms"],
                revoked_ms=m["revoked_ms"],
                last_used_ms=m["last_used_ms"],
            )
            for m in (row._mapping for row in rows)
        ]
