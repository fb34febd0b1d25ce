"""Client secrets (SPEC 4.5): named values a client hands the server for its tools, encrypted at
rest, bound to the client id and expiring.

The client (`ingestSecrets`, `clearSecrets`, `deleteSecret`) sends neither a session id nor an
App key here: its `client_id` is the credential. Clients get back opaque handles
(`$SECRET:NAME`), never values; the plaintext leaves this module only through
`ClientSecrets.values`, which tools call server-side.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from aomi.apps.app import SECRET_NAME_PATTERN, App, SecretSlot
from aomi.crypto import Sealer, UnsealError
from aomi.db.tables import client_secrets
from aomi.errors import InvalidInput, MissingSecret
from aomi.timeutil import now_ms
from aomi.validation import check_text

SEALER_PURPOSE = "client-secrets"
CLIENT_ID_MAX = 200
NAME_PATTERN = SECRET_NAME_PATTERN
VALUE_MAX = 8192
SECRETS_MAX = 64
_NAME_RE = re.compile(NAME_PATTERN)


def handle(name: str) -> str:
    """The opaque handle a client gets for a secret: `$SECRET:NAME`."""
    return f"$SECRET:{name}"


def check_client_id(client_id: object) -> str:
    if not isinstance(client_id, str) or not client_id.strip():
        raise InvalidInput("client_id is required: the client's own stable id (it is the credential here)")
    if len(client_id) > CLIENT_ID_MAX:
        raise InvalidInput(f"client_id is longer than {CLIENT_ID_MAX} characters")
    return check_text(client_id, "client_id")


def check_name(name: object) -> str:
    if not isinstance(name, str) or _NAME_RE.fullmatch(name) is None:
        shown = str(name)[:64]
        raise InvalidInput(
            f"secret name {shown!r} is not valid: letters, digits and _, starting with a letter or _, "
            "at most 64 characters"
        )
    return name


def check_secrets(secrets: object) -> dict[str, str]:
    """A `{NAME: value}` object; the message names the bad entry, never a value."""
    if not isinstance(secrets, dict) or not secrets:
        raise InvalidInput("secrets must be a non-empty object of {NAME: value}")
    if len(secrets) > SECRETS_MAX:
        raise InvalidInput(f"at most {SECRETS_MAX} secrets at once; {len(secrets)} were sent")
    checked: dict[str, str] = {}
    for name, value in secrets.items():
        check_name(name)
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"secret {name}: the value must be a non-empty string")
        if len(value) > VALUE_MAX:
            raise InvalidInput(f"secret {name}: the value is longer than {VALUE_MAX} characters")
        if "\x00" in value:
            raise InvalidInput(f"secret {name}: the value must not hold a NUL character")
        checked[name] = value
    return checked


class ClientSecretStore:
    """The `client_secrets` table. Holds ciphertext only; knows nothing of encryption."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def put(self, client_id: str, sealed: Mapping[str, str], now: int, expires_ms: int) -> None:
        rows = [
            {"client_id": client_id, "name": n, "ciphertext": c, "created_ms": now, "expires_ms": expires_ms}
            for n, c in sealed.items()
        ]
        stmt = self._insert(client_secrets)
        stmt = stmt.on_conflict_do_update(
            index_elements=["client_id", "name"],
            set_={
                "ciphertext": stmt.excluded.ciphertext,
                "created_ms": stmt.excluded.created_ms,
                "expires_ms": stmt.excluded.expires_ms,
            },
        )
        async with self.engine.begin() as conn:
            await conn.execute(stmt, rows)

    async def sealed(self, client_id: str, names: Collection[str], now: int) -> dict[str, str]:
        """The client's unexpired ciphertexts of ``names``."""
        c = client_secrets.c
        query = select(c.name, c.ciphertext).where(
            c.client_id == client_id, c.name.in_(list(names)), c.expires_ms > now
        )
        async with self.engine.connect() as conn:
            return {r.name: r.ciphertext for r in await conn.execute(query)}

    async def delete(self, client_id: str, name: str | None = None) -> int:
        """Delete one of the client's secrets, or all of them; how many rows went."""
        c = client_secrets.c
        query = delete(client_secrets).where(c.client_id == client_id)
        if name is not None:
            query = query.where(c.name == name)
        async with self.engine.begin() as conn:
            result = await conn.execute(query)
        return int(result.rowcount or 0)

    async def purge_expired(self, now: int) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(client_secrets).where(client_secrets.c.expires_ms <= now))
        return int(result.rowcount or 0)


class ClientSecrets:
    """The client-secrets service: validates, encrypts and decrypts; the only user of the store."""

    def __init__(self, store: ClientSecretStore, sealer: Sealer, lifetime_seconds: float) -> None:
        self.store = store
        self.sealer = sealer
        self.lifetime_ms = round(lifetime_seconds * 1000)

    async def ingest(self, client_id: object, secrets: object) -> dict[str, str]:
        """Store (or replace) the client's secrets; their handles, by name."""
        owner = check_client_id(client_id)
        values = check_secrets(secrets)
        now = now_ms()
        await self.store.put(
            owner, {n: self.sealer.seal(v) for n, v in values.items()}, now, now + self.lifetime_ms
        )
        return {name: handle(name) for name in values}

    async def clear(self, client_id: object) -> None:
        await self.store.delete(check_client_id(client_id))

    async def delete(self, client_id: object, name: object) -> bool:
        return bool(await self.store.delete(check_client_id(client_id), check_name(name)))

    async def values(self, client_id: str, names: Collection[str]) -> dict[str, str]:
        """The plaintext of the client's unexpired secrets among ``names`` (for tools, server-side
        only). A value that no longer decrypts (the server secret changed) is left out."""
        opened: dict[str, str] = {}
        for name, sealed in (await self.store.sealed(client_id, names, now_ms())).items():
            try:
                opened[name] = self.sealer.open(sealed)
            except UnsealError:
                continue
        return opened

    async def purge_expired(self) -> int:
        return await self.store.purge_expired(now_ms())


def operator_variable(app: str, name: str) -> str:
    """The environment variable an operator sets an App's secret with: `AOMI_APP_<APP>_<NAME>`."""
    return f"AOMI_APP_{re.sub(r'[^A-Za-z0-9]', '_', app).upper()}_{name.upper()}"


class AppSecrets:
    """The values of an App's secret slots for one client: only slots the App declares resolve,
    so no App reads another's secrets, whatever names they share."""

    def __init__(self, clients: ClientSecrets, environ: Mapping[str, str] | None = None) -> None:
        self.clients = clients
        self.environ = os.environ if environ is None else environ

    async def resolve(self, app: App, client_id: str | None) -> dict[str, str]:
        """Slot name -> value, the client's value first where the slot takes one."""
        from_client = [slot.name for slot in app.secrets if slot.source != "operator"]
        client = await self.clients.values(client_id, from_client) if client_id and from_client else {}
        resolved: dict[str, str] = {}
        for slot in app.secrets:
            value = client.get(slot.name) if slot.source != "operator" else None
            if value is None and slot.source != "client":
                value = self.environ.get(operator_variable(app.name, slot.name)) or None
            if value is not None:
                resolved[slot.name] = value
        return resolved

    @staticmethod
    def require(app: App, resolved: Mapping[str, str], name: str) -> str:
        """A slot's value for a tool; `MissingSecret` naming the slot and where it comes from."""
        slot = next((s for s in app.secrets if s.name == name), None)
        if slot is None:
            raise MissingSecret(f"the App {app.name!r} declares no secret {name!r}")
        value = resolved.get(name)
        if value is None:
            raise MissingSecret(_missing(app, slot))
        return value


def _missing(app: App, slot: SecretSlot) -> str:
    where = {
        "operator": f"the operator sets {operator_variable(app.name, slot.name)}",
        "client": "the client sends it with POST /api/secrets",
        "either": f"the client sends it with POST /api/secrets, or the operator sets "
        f"{operator_variable(app.name, slot.name)}",
    }[slot.source]
    return f"the secret {slot.name} is not set: {where}"
