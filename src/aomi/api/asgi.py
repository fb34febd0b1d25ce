"""Helpers for the pure ASGI middleware (cheaper per request than Starlette's BaseHTTPMiddleware)."""

from __future__ import annotations

from starlette.types import Scope


def header(scope: Scope, *names: bytes) -> str | None:
    """The first value of any of the (lower-case) header ``names``; None when absent."""
    for name, value in scope["headers"]:
        if name in names:
            return bytes(value).decode("latin-1")
    return None
