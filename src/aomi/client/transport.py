"""The one request layer under both clients: URLs, headers (`X-Session-Id`, the App key), the
`app` query, JSON bodies, and failures turned into typed exceptions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypedDict, Unpack
from urllib.parse import quote

import httpx

from aomi.client.errors import AomiConnectionError, raise_for_error

SESSION_HEADER = "X-Session-Id"
APP_KEY_HEADER = "AOMI-APP-KEY"
DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT = 30.0

Params = Mapping[str, str | int | None]


def user_state_param(user_state: dict[str, Any] | None) -> str | None:
    """`user_state` as the query carries it: JSON text."""
    return json.dumps(user_state, separators=(",", ":")) if user_state is not None else None


class ClientOptions(TypedDict, total=False):
    """What both clients are made with, besides the base URL."""

    app_key: str | None
    """Sent as `AOMI-APP-KEY` on every request."""
    app: str | None
    """The App of every call that names none (the server's `default` when neither does)."""
    timeout: float
    """Seconds for connecting and for each read (the update stream has its own read timeout)."""


class RequestParts(TypedDict, total=False):
    session_id: str | None
    app: str | None
    params: Params | None
    body: dict[str, Any] | None
    headers: dict[str, str] | None
    check: bool
    """Raise the typed error of a failed answer (default True)."""


class Transport:
    """An `httpx.AsyncClient` bound to one server and (optionally) one App key."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        http: httpx.AsyncClient | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_key, self.app = options.get("app_key"), options.get("app")
        self.http = http or httpx.AsyncClient(timeout=options.get("timeout", DEFAULT_TIMEOUT))

    def url(self, path: str) -> str:
        return self.base_url + path

    def headers(self, session_id: str | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if session_id is not None:
            headers[SESSION_HEADER] = session_id
        if self.app_key:
            headers[APP_KEY_HEADER] = self.app_key
        return headers

    def params(self, params: Params | None = None, app: str | None = None) -> dict[str, str | int]:
        """The query without empty values; `app` is the call's, else the client's default."""
        chosen = app or self.app
        merged: dict[str, str | int | None] = {**({"app": chosen} if chosen else {}), **(params or {})}
        return {name: value for name, value in merged.items() if value is not None}

    def unreachable(self, exc: httpx.TransportError) -> AomiConnectionError:
        reason = str(exc) or type(exc).__name__
        return AomiConnectionError(f"cannot reach the Aomi server at {self.base_url}: {reason}")

    async def send(self, method: str, path: str, **parts: Unpack[RequestParts]) -> httpx.Response:
        """Send one request; a failed answer raises its typed `AomiClientError` (unless ``check``
        is false), a connection failure `AomiConnectionError`."""
        try:
            response = await self.http.request(
                method,
                self.url(path),
                params=self.params(parts.get("params"), parts.get("app")),
                headers=self.headers(parts.get("session_id"), parts.get("headers")),
                json=parts.get("body"),
            )
        except httpx.TransportError as exc:
            raise self.unreachable(exc) from exc
        if parts.get("check", True):
            raise_for_error(response)
        return response

    async def json(self, method: str, path: str, **parts: Unpack[RequestParts]) -> Any:
        response = await self.send(method, path, **parts)
        return response.json()

    async def aclose(self) -> None:
        await self.http.aclose()


def api_path(*parts: str) -> str:
    """A path from segments, each percent-encoded (ids and names are caller input)."""
    return "".join("/" + quote(part, safe="") for part in parts)


class Routes:
    """Base of the route groups `AsyncAomiClient` is made of: they share its transport."""

    transport: Transport
