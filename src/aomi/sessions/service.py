"""SessionService: every change to a session, written to the database first and applied to the
cached session only after the commit. A failed write leaves memory as it was.

Routers parse and authorize, then call this; they never touch the store or a session's fields.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from aomi.agent.runner import TurnRunner
from aomi.apps.app import App
from aomi.errors import SessionNotFound
from aomi.sessions.bus import Subscription
from aomi.sessions.manager import SessionManager
from aomi.sessions.model import TITLE_CHANGED, Event, Message, Sender, Session, SessionInfo
from aomi.sessions.user_state import WalletInput
from aomi.wallet.requests import WalletAnswer

CLIENT_ID_MAX = 200


class SessionService:
    def __init__(self, manager: SessionManager, runner: TurnRunner) -> None:
        self.manager = manager
        self.runner = runner

    @asynccontextmanager
    async def _writing(self, s: Session) -> AsyncIterator[None]:
        """A write that finds the session deleted (by a racing request or another replica) drops
        it from memory too, and answers 404."""
        try:
            yield
        except SessionNotFound:
            self.manager.forget(s.id)
            raise

    async def update(self, s: Session, **changes: Any) -> bool:
        """Change attributes of ``s`` (wallet, client_id, title, title_manual, archived, model, app):
        written first, then applied. False when nothing differs (nothing is written)."""
        changes = {name: value for name, value in changes.items() if getattr(s, name) != value}
        if not changes:
            return False
        async with self._writing(s):
            await self.manager.store.update_attributes(replace(s, **changes), changes.keys())
        for name, value in changes.items():
            setattr(s, name, value)
        s.changed()
        return True

    @staticmethod
    def client_changes(s: Session, wallet: WalletInput, client_id: str | None) -> dict[str, Any]:
        """The attribute changes a client's ``user_state``/``public_key`` and ``client_id`` make."""
        changes: dict[str, Any] = {"wallet": wallet.apply(s.wallet)}
        if client_id:
            changes["client_id"] = client_id[:CLIENT_ID_MAX]
        return changes

    async def take_client_state(self, s: Session, wallet: WalletInput, client_id: str | None = None) -> None:
        await self.update(s, **self.client_changes(s, wallet, client_id))

    async def chat(
        self,
        s: Session,
        app: App,
        message: str,
        wallet: WalletInput,
        client_id: str | None,
        *,
        key_id: str | None = None,
    ) -> None:
        """Start a turn; the session moves to ``app`` (the caller may use both), history included.
        ``key_id``: the App key the turn's usage is recorded against."""
        changes = self.client_changes(s, wallet, client_id)
        if s.app != app.name:
            changes["app"] = app.name
            if s.model not in app.allowed_models:
                changes["model"] = app.default_model
        async with self._writing(s):
            await self.runner.start(s, message, changes, key_id=key_id)

    async def set_model(self, s: Session, model: str, client_id: str | None) -> None:
        """The model of the session's next turns (a running turn keeps the one it started with)."""
        changes: dict[str, Any] = {"model": model}
        if client_id:
            changes["client_id"] = client_id[:CLIENT_ID_MAX]
        await self.update(s, **changes)

    async def rename(self, s: Session, title: str) -> None:
        """A manual title, never replaced by an automatic one; announced with ``title_changed``."""
        async with self._writing(s):
            await self.update(s, title=title, title_manual=True)
            await self.manager.add_event(s, TITLE_CHANGED, {"new_title": title})

    async def set_archived(self, s: Session, archived: bool) -> None:
        await self.update(s, archived=archived)

    async def post_system(self, s: Session, text: str, kind: str, payload: Any) -> Message:
        """A system message and its event (``kind``: SystemNotice or AsyncCallback)."""
        msg = Message(seq=-1, sender=Sender.SYSTEM, content=text)  # the database numbers it
        async with self._writing(s):
            await self.manager.add_message(s, msg, kind, payload)
        return msg

    async def answer_wallet(self, s: Session, answer: WalletAnswer) -> None:
        """Settle the parked turn's wallet request(s) the answer names; the turn resumes once none
        is pending. An answer nothing waits for changes nothing (it stays a system message)."""
        async with self._writing(s):
            await self.runner.settle(s, answer)

    async def interrupt(self, s: Session) -> None:
        await self.runner.interrupt(s)

    async def delete(self, s: Session) -> None:
        """Interrupt a running turn, then remove the session, its messages and events."""
        await self.runner.interrupt(s)
        await self.manager.delete(s)

    async def snapshot(self, s: Session) -> bytes:
        return await self.manager.snapshot(s)

    async def events(self, s: Session, count: int | None) -> list[Event]:
        return await self.manager.store.system_events(s.id, count)

    async def events_after(self, session_id: str, after_seq: int) -> list[Event]:
        """Every logged event (SystemEvents and updates) after ``after_seq``, oldest first."""
        return await self.manager.store.events_after(session_id, after_seq)

    def subscribe(self, session_id: str) -> Subscription:
        """Live events of a session, as they are published (see `EventBus`)."""
        return self.manager.bus.subscribe(session_id)

    def unsubscribe(self, sub: Subscription) -> None:
        self.manager.bus.unsubscribe(sub)

    async def list_by_wallet(
        self, address: str, apps: Collection[str], limit: int, before: tuple[int, str] | None
    ) -> Sequence[SessionInfo]:
        return await self.manager.store.list_by_wallet(address, apps, limit, before)
