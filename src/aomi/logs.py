"""Logs: structured (text or JSON) with request and session ids, and what they must never carry.

Query strings are the main case: `GET /api/state?user_state=...` and friends carry chat
messages and wallet state, so access-log lines show the path only. Credential-looking text is
redacted from every line.
"""

from __future__ import annotations

import itertools
import logging
import re
import uuid
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any, TextIO

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aomi.api.asgi import header

ACCESS_LOGGER = "uvicorn.access"


class StripQueryString(logging.Filter):
    """Cut the query string off the request path of uvicorn access-log records.

    uvicorn logs ``'%s - "%s %s HTTP/%s" %d'`` with args ``(client_addr, method, full_path,
    http_version, status_code)``; its path is percent-encoded, so the first ``?`` starts the
    query. Every string argument that is a path is cut, in case the argument order changes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.split("?", 1)[0] if isinstance(arg, str) and arg.startswith("/") else arg
                for arg in record.args
            )
        return True


def install_access_log_filter() -> None:
    """Attach `StripQueryString` to uvicorn's access logger (once, however often called)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, StripQueryString) for f in logger.filters):
        logger.addFilter(StripQueryString())


# -- structured logs -------------------------------------------------------------------------

# Credentials that must never reach a log line, whatever logged them: generated App keys,
# provider-style keys (`sk-…`), bearer tokens, and `key=`/`token=`/`secret=`/`password=` pairs.
_SECRET_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"),
    re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)\b((?:api[_-]?)?key|token|secret|password)=[^\s&\"']{4,}"),
)
REQUEST_ID_HEADER = b"x-request-id"
# The ids of the request being served (and of the turn it started: tasks copy the context). A
# plain context variable: binding it costs a fraction of structlog's contextvars helpers.
_request: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("aomi_request", default=())
# Request ids: a random prefix per process and a counter, unique across replicas, cheap to make.
_ID_PREFIX = uuid.uuid4().hex[:12]
_ids = itertools.count(1)
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_SESSION_ID_RE = re.compile(r"[0-9a-fA-F-]{36}")


def redact_text(text: str) -> str:
    """``text`` with credential-looking substrings replaced by `[redacted]`."""
    text = _SECRET_PATTERNS[0].sub("[redacted]", text)
    text = _SECRET_PATTERNS[1].sub(lambda m: f"{m.group(1)} [redacted]", text)
    return _SECRET_PATTERNS[2].sub(lambda m: f"{m.group(1)}=[redacted]", text)


def _redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event.pop("color_message", None)  # uvicorn's copy of the message with terminal colours
    for name, value in event.items():
        if isinstance(value, str):
            event[name] = redact_text(value)
    return event


def _merge_request(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for name, value in _request.get():
        event.setdefault(name, value)
    return event


def configure_logging(level: str, fmt: str, stream: TextIO | None = None) -> None:
    """One handler on the root logger for every library: text (`2026-… info aomi.x: …
    request_id=… session_id=…`) or one JSON object per line, with the request and session
    ids bound by `RequestContextMiddleware` and credentials redacted. Alembic's start-up chatter
    (plugin set-up, dialect notes) is left out; migrations that ran are logged by `aomi`."""
    shared: list[Any] = [
        _merge_request,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0, pad_level=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.processors.format_exc_info],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _redact, renderer],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


class RequestContextMiddleware:
    """Every log line of a request (and of the turn it starts) carries `request_id` (the client's
    `X-Request-Id` when it is sane, else a new one; echoed in the answer) and `session_id`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = header(scope, REQUEST_ID_HEADER)
        if given is not None and _REQUEST_ID_RE.fullmatch(given):
            request_id = given
        else:
            request_id = f"{_ID_PREFIX}{next(_ids):x}"
        bound: tuple[tuple[str, str], ...] = (("request_id", request_id),)
        session = header(scope, b"x-session-id")
        if session is not None and _SESSION_ID_RE.fullmatch(session):
            bound = (*bound, ("session_id", session.lower()))
        raw = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (REQUEST_ID_HEADER, raw)]}
            await send(message)

        token = _request.set(bound)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _request.reset(token)
