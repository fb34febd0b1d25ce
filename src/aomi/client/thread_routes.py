"""Threads (SPEC 4.3): create, list by wallet (paged), get, rename, delete, archive, unarchive."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from aomi.client.models import CreatedThread, Deleted, Thread, ThreadPage
from aomi.client.transport import Routes, api_path

NEXT_CURSOR_HEADER = "X-Next-Cursor"
_THREADS = TypeAdapter(list[Thread])


class ThreadRoutes(Routes):
    async def create_thread(
        self, session_id: str, *, public_key: str | None = None, app: str | None = None
    ) -> CreatedThread:
        """`POST /api/sessions`: create the session (idempotent), optionally bound to a wallet."""
        body = {name: value for name, value in (("public_key", public_key), ("app", app)) if value}
        data = await self.transport.json("POST", "/api/sessions", session_id=session_id, body=body)
        return CreatedThread.model_validate(data)

    async def list_threads(
        self,
        public_key: str,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        wallet_token: str | None = None,
    ) -> ThreadPage:
        """`GET /api/sessions`: one page of the wallet's threads, most recently active first."""
        headers = {"Authorization": f"Bearer {wallet_token}"} if wallet_token else None
        response = await self.transport.send(
            "GET",
            "/api/sessions",
            params={"public_key": public_key, "limit": limit, "cursor": cursor},
            headers=headers,
        )
        threads = _THREADS.validate_python(response.json())
        return ThreadPage(threads=threads, next_cursor=response.headers.get(NEXT_CURSOR_HEADER))

    async def get_thread(self, session_id: str, *, app: str | None = None) -> Thread:
        """`GET /api/sessions/{id}`."""
        return await self._thread("GET", session_id, app=app)

    async def rename_thread(self, session_id: str, title: str, *, app: str | None = None) -> Thread:
        """`PATCH /api/sessions/{id}`: a manual title, never replaced by automatic titling."""
        return await self._thread("PATCH", session_id, app=app, body={"title": title})

    async def delete_thread(self, session_id: str, *, app: str | None = None) -> bool:
        """`DELETE /api/sessions/{id}`: the session, its messages and events."""
        data = await self.transport.json("DELETE", api_path("api", "sessions", session_id), app=app)
        return Deleted.model_validate(data).deleted

    async def archive_thread(self, session_id: str, *, app: str | None = None) -> Thread:
        """`POST /api/sessions/{id}/archive`."""
        return await self._thread("POST", session_id, "archive", app=app)

    async def unarchive_thread(self, session_id: str, *, app: str | None = None) -> Thread:
        """`POST /api/sessions/{id}/unarchive`."""
        return await self._thread("POST", session_id, "unarchive", app=app)

    async def _thread(self, method: str, session_id: str, *action: str, **kwargs: Any) -> Thread:
        data = await self.transport.json(method, api_path("api", "sessions", session_id, *action), **kwargs)
        return Thread.model_validate(data)
