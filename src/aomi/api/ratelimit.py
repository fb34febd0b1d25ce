"""Rate limits per App key and per session (SPEC 6): a moving window kept in memory, or in Redis
when `AOMI_REDIS_URL` is set so that every replica counts together. Over the limit a request
gets 429 with `Retry-After` before any route runs.

Keys are counted by a keyed hash, never the key itself (Redis holds no App key). Liveness,
readiness and metrics are not limited. When Redis cannot be reached, requests pass (a limit is
a guard, not a reason for an outage) and a warning is logged at most once a minute.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Receive, Scope, Send

from aomi.api.asgi import header
from aomi.api.errors import error_response
from aomi.rates import describe, parse_limit

EXEMPT_PATHS = frozenset({"/health", "/ready", "/metrics"})
KEY_HEADERS = (b"aomi-app-key", b"x-api-key")
SESSION_HEADER = b"x-session-id"


@dataclass(frozen=True)
class Refusal:
    what: str
    limit: RateLimitItem
    retry_after: int


class RateLimits:
    def __init__(self, per_key: str, per_session: str, secret: bytes, redis_url: str | None = None) -> None:
        self.per_key = parse_limit(per_key)
        self.per_session = parse_limit(per_session)
        self._secret = secret
        storage = storage_from_string(_async_url(redis_url)) if redis_url else MemoryStorage()
        assert isinstance(storage, Storage)  # the async+ schemes give async storages
        self.storage = storage
        self.limiter = MovingWindowRateLimiter(self.storage)
        self._warned_at = -math.inf

    async def aclose(self) -> None:
        """Close the Redis connections (memory storage has none)."""
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()

    @property
    def enabled(self) -> bool:
        return self.per_key is not None or self.per_session is not None

    def _id(self, kind: str, value: str) -> str:
        return kind + ":" + hmac.new(self._secret, value.encode(), hashlib.sha256).hexdigest()[:32]

    async def check(self, key: str | None, session: str | None) -> Refusal | None:
        """Count one request; the refusal when a limit is exceeded (the other is not counted then)."""
        checks = [
            ("App key", self.per_key, "key", key),
            ("session", self.per_session, "session", session),
        ]
        try:
            for what, limit, kind, value in checks:
                if limit is None or not value:
                    continue
                ident = self._id(kind, value)
                if not await self.limiter.hit(limit, ident):
                    stats = await self.limiter.get_window_stats(limit, ident)
                    wait = max(1, math.ceil(stats.reset_time - time.time()))
                    return Refusal(what, limit, wait)
        except Exception as exc:  # Redis unreachable: let the request through
            now = time.monotonic()
            if now - self._warned_at > 60:
                self._warned_at = now
                logging.getLogger("aomi.limits").warning(
                    "rate limit storage unavailable (%s); requests are not limited", type(exc).__name__
                )
        return None


def _async_url(url: str) -> str:
    """`redis://…` as the limits library's async scheme (`async+redis://…`)."""
    return url if url.startswith("async+") else "async+" + url


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.limits.enabled or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        refusal = await self.limits.check(header(scope, *KEY_HEADERS), header(scope, SESSION_HEADER))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        response = error_response(
            429,
            "rate_limited",
            f"too many requests for this {refusal.what}: at most {describe(refusal.limit)}; "
            f"retry in {refusal.retry_after} s",
        )
        response.headers["Retry-After"] = str(refusal.retry_after)
        await response(scope, receive, send)
