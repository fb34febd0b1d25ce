"""Chat, state, system messages, events and the update stream (SPEC 4.2, 4.4), and health."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Unpack

from pydantic import TypeAdapter

from aomi.client.models import Snapshot, SystemResult, Update
from aomi.client.sse import UpdateOptions, follow_updates
from aomi.client.transport import Routes, user_state_param

_EVENTS = TypeAdapter(list[dict[str, Any]])


class ChatRoutes(Routes):
    async def health(self) -> str:
        """`GET /health`: ``OK`` while the server runs."""
        return (await self.transport.send("GET", "/health")).text

    async def ready(self) -> bool:
        """`GET /ready`: whether the server's database answers (False on 503)."""
        response = await self.transport.send("GET", "/ready", check=False)
        return response.status_code == 200

    async def send_message(
        self,
        session_id: str,
        message: str,
        *,
        app: str | None = None,
        public_key: str | None = None,
        user_state: dict[str, Any] | None = None,
        client_id: str | None = None,
    ) -> Snapshot:
        """`POST /api/chat`: the snapshot with the user message; the turn runs in the background."""
        body = {
            "message": message,
            "public_key": public_key,
            "user_state": user_state,
            "client_id": client_id,
        }
        data = await self.transport.json(
            "POST",
            "/api/chat",
            session_id=session_id,
            app=app,
            body={name: value for name, value in body.items() if value is not None},
        )
        return Snapshot.model_validate(data)

    async def fetch_state(
        self,
        session_id: str,
        *,
        app: str | None = None,
        user_state: dict[str, Any] | None = None,
        client_id: str | None = None,
    ) -> Snapshot:
        """`GET /api/state`: the snapshot (empty and idle for an unknown session)."""
        params = {"user_state": user_state_param(user_state), "client_id": client_id}
        data = await self.transport.json("GET", "/api/state", session_id=session_id, app=app, params=params)
        return Snapshot.model_validate(data)

    async def interrupt(self, session_id: str, *, app: str | None = None) -> Snapshot:
        """`POST /api/interrupt`: cancel the running turn; the partial answer is kept."""
        data = await self.transport.json("POST", "/api/interrupt", session_id=session_id, app=app)
        return Snapshot.model_validate(data)

    async def send_system_message(
        self, session_id: str, message: str, *, app: str | None = None
    ) -> SystemResult:
        """`POST /api/system`: a notice, or JSON (an async callback such as a wallet answer)."""
        data = await self.transport.json(
            "POST", "/api/system", session_id=session_id, app=app, body={"message": message}
        )
        return SystemResult.model_validate(data)

    async def get_system_events(
        self, session_id: str, *, count: int | None = None, app: str | None = None
    ) -> list[dict[str, Any]]:
        """`GET /api/events`: every SystemEvent of the session, oldest first (the last ``count``)."""
        data = await self.transport.json(
            "GET", "/api/events", session_id=session_id, app=app, params={"count": count}
        )
        return _EVENTS.validate_python(data)

    def subscribe_updates(
        self, session_id: str, **options: Unpack[UpdateOptions]
    ) -> AsyncGenerator[Update, None]:
        """`GET /api/updates` as an async iterator that resumes with `Last-Event-ID` after a drop
        (options: `app`, `last_event_id`, `reconnect`, `retry_delay`, `max_retries`, `read_timeout`)."""
        return follow_updates(self.transport, session_id, **options)
