"""The operator's view (SPEC 4.6): Apps, keys, every session and usage over time. The admin API
(`api/admin.py`) parses and authorizes; this service does the work on the stores."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aomi.apps.app import App
from aomi.apps.registry import AppRegistry
from aomi.errors import AppNotFound, SessionNotFound
from aomi.keys.store import IssuedKey, KeyRecord, KeyStore
from aomi.keys.verify import KeyVerifier
from aomi.sessions.listing import SessionQuery, SessionSummary, summary_of
from aomi.sessions.model import Session
from aomi.sessions.service import SessionService
from aomi.timeutil import iso_ms
from aomi.usage import UsageBucket, UsageStore, UsageTotal


def app_json(app: App) -> dict[str, Any]:
    return {
        "name": app.name,
        "description": app.description,
        "default_model": app.default_model,
        "models": list(app.allowed_models),
        "keyed": not app.public,
        "tools": app.tool_summary(),
        "documents": list(app.documents),
        "secrets": [slot.name for slot in app.secrets],
    }


@dataclass(frozen=True)
class SessionDetail:
    summary: SessionSummary
    messages: list[dict[str, Any]]


@dataclass(frozen=True)
class Usage:
    totals: list[UsageTotal]
    series: list[UsageBucket]


class AdminService:
    def __init__(
        self,
        apps: AppRegistry,
        keys: KeyStore,
        verifier: KeyVerifier,
        sessions: SessionService,
        usage: UsageStore,
    ) -> None:
        self.apps, self.keys, self.verifier, self.sessions, self.usage = apps, keys, verifier, sessions, usage

    # Apps
    def list_apps(self) -> list[App]:
        return self.apps.all()

    def app(self, name: str) -> App:
        app = self.apps.get(name)
        if app is None:
            raise AppNotFound(f"no App {name!r} (known: {', '.join(self.apps.names())})")
        return app

    # Keys: a change is forgotten by this process's cache at once (other replicas hear a NOTIFY).
    async def list_keys(self) -> list[KeyRecord]:
        return await self.keys.list()

    async def key(self, key: str) -> KeyRecord:
        """The key named by its id, a unique start of it or of its prefix, or the key itself."""
        return await self.keys.resolve(key)

    async def issue_key(self, apps: Sequence[str], label: str | None, expires_ms: int | None) -> IssuedKey:
        for name in apps:
            self.app(name)
        return await self.keys.create(list(dict.fromkeys(apps)), label=label, expires_ms=expires_ms)

    async def revoke_key(self, key: str) -> KeyRecord:
        record = await self.keys.revoke(key)
        self.verifier.invalidate(record.id)
        return record

    async def set_key_expiry(self, key: str, expires_ms: int | None) -> KeyRecord:
        record = await self.keys.set_expiry(key, expires_ms)
        self.verifier.invalidate(record.id)
        return record

    async def rotate_key(self, key: str, grace_ms: int) -> tuple[IssuedKey, KeyRecord]:
        issued, old = await self.keys.rotate(key, grace_ms=grace_ms)
        self.verifier.invalidate(old.id)
        return issued, old

    # Sessions
    async def search_sessions(self, q: SessionQuery) -> list[SessionSummary]:
        return await self.sessions.manager.store.search(q)

    async def _session(self, session_id: str) -> Session:
        s = await self.sessions.manager.get(session_id)
        if s is None:
            raise SessionNotFound(f"no session {session_id}")
        return s

    async def session(self, session_id: str) -> SessionDetail:
        """The session and its messages. Unlike a client's read, this delivers no pending event."""
        s = await self._session(session_id)
        messages: list[dict[str, Any]] = json.loads(s.snapshot())["messages"]
        return SessionDetail(summary_of(s), messages)

    async def export_session(self, session_id: str) -> dict[str, Any]:
        """Everything a session holds, for an operator's download: its row, messages and events."""
        detail = await self.session(session_id)
        events = await self.sessions.events_after(session_id, 0)
        return {
            "session": detail.summary.admin_json(),
            "messages": detail.messages,
            "events": [
                {"seq": e.seq, "kind": e.kind, "payload": e.payload, "created_at": iso_ms(e.created_ms)}
                for e in events
            ],
        }

    async def delete_session(self, session_id: str) -> None:
        await self.sessions.delete(await self._session(session_id))

    # Usage
    async def usage_over(
        self, since_ms: int, until_ms: int, bucket_ms: int, app: str | None, key_id: str | None
    ) -> Usage:
        """Totals over ``[since_ms, until_ms)`` (empty when until is not after since) and per bucket,
        only the buckets with turns (so a long range of small buckets costs no more)."""
        if until_ms <= since_ms:
            return Usage([], [])
        totals = await self.usage.totals(app=app, key_id=key_id, since_ms=since_ms, until_ms=until_ms)
        series = await self.usage.series(
            app=app, key_id=key_id, since_ms=since_ms, until_ms=until_ms, bucket_ms=bucket_ms
        )
        return Usage(totals, series)
