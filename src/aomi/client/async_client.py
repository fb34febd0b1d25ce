"""`AsyncAomiClient`: one async method per public route of the Aomi server."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Unpack

import httpx

from aomi.client.chat_routes import ChatRoutes
from aomi.client.control_routes import ControlRoutes
from aomi.client.thread_routes import ThreadRoutes
from aomi.client.transport import DEFAULT_URL, ClientOptions, RequestParts, Transport

if TYPE_CHECKING:
    from aomi.client.session import AsyncSession


class AsyncAomiClient(ChatRoutes, ThreadRoutes, ControlRoutes):
    """An async client of one Aomi server.

    ``app_key`` is sent (as `AOMI-APP-KEY`) on every request; ``app`` is the App used when a call
    names none (the server's `default` when neither does). Use it as an async context manager,
    or call `aclose()`.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        http: httpx.AsyncClient | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self.transport = Transport(base_url, http=http, **options)

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    @property
    def app(self) -> str | None:
        return self.transport.app

    async def __aenter__(self) -> AsyncAomiClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def request(self, method: str, path: str, **parts: Unpack[RequestParts]) -> httpx.Response:
        """Any route, for what has no method here: the client's headers and typed errors apply."""
        return await self.transport.send(method, path, **parts)

    def session(
        self,
        session_id: str | None = None,
        *,
        app: str | None = None,
        wallet: str | None = None,
        chain_id: int | None = None,
        client_id: str | None = None,
    ) -> AsyncSession:
        """A `AsyncSession` on this client (a new uuid4 session id when none is given)."""
        from aomi.client.session import AsyncSession

        return AsyncSession(self, session_id, app=app, wallet=wallet, chain_id=chain_id, client_id=client_id)
