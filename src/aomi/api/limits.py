"""Request limits enforced before a route runs: header count and size, NUL in the query, body size."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aomi.api.errors import error_response
from aomi.errors import AomiError, HeadersTooLarge, InvalidInput, PayloadTooLarge


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"the request body is larger than {self.max_bytes} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bodiless = True
        for name, value in scope["headers"]:
            if name == b"content-length":
                bodiless = value == b"0"
                if value.isdigit() and int(value) > self.max_bytes:
                    err = self._too_large()
                    await error_response(err.status, err.code, err.message)(scope, receive, send)
                    return
            elif name == b"transfer-encoding":
                bodiless = False
        if bodiless and scope["method"] in ("GET", "HEAD"):  # nothing to count: no wrapping
            await self.app(scope, receive, send)
            return
        seen, exceeded = 0, False

        async def limited_receive() -> Message:
            # Past the limit the app sees a disconnect and whatever it answers is replaced by a 413.
            nonlocal seen, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not exceeded:
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded:
            err = self._too_large()
            await error_response(err.status, err.code, err.message)(scope, receive, send)


MAX_HEADERS = 100
MAX_HEADER_BYTES = 64 * 1024


class RequestShapeMiddleware:
    """431 for too many or too large headers; 400 for a NUL character (``%00``) in the query string,
    which PostgreSQL could not store (fields read from the query are checked again, by name)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            err = self._problem(scope)
            if err is not None:
                await error_response(err.status, err.code, err.message)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _problem(scope: Scope) -> AomiError | None:
        headers = scope["headers"]
        size = sum(len(name) + len(value) for name, value in headers)
        if len(headers) > MAX_HEADERS or size > MAX_HEADER_BYTES:
            return HeadersTooLarge(
                f"the request has {len(headers)} headers of {size} bytes; "
                f"at most {MAX_HEADERS} headers and {MAX_HEADER_BYTES} bytes are accepted"
            )
        query = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            return InvalidInput("the query string holds a NUL character (%00), which cannot be stored")
        return None
