"""Structured logs: text or JSON, request and session ids on every line of a request, secrets
redacted, no library chatter at start-up."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from aomi.logs import RequestContextMiddleware, configure_logging, redact_text

SID = "0f8fad5b-d9cb-469f-a165-70867728950e"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    alembic = logging.getLogger("alembic").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(alembic)
    structlog.reset_defaults()


def _app() -> RequestContextMiddleware:
    async def endpoint(request: Request) -> PlainTextResponse:
        logging.getLogger("aomi.test").info("handling with key %s", "sk-mcd-" + "A" * 43)
        structlog.get_logger("aomi.test").warning("via structlog", detail="Bearer abcdefghijkl")
        return PlainTextResponse("ok")

    return RequestContextMiddleware(Starlette(routes=[Route("/x", endpoint)]))


async def _call(headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/x", headers=headers)


@pytest.mark.usefixtures("restore_logging")
async def test_json_lines_carry_request_and_session_ids_and_no_secrets() -> None:
    out = io.StringIO()
    configure_logging("info", "json", out)
    r = await _call({"X-Request-Id": "req-123", "X-Session-Id": SID})
    assert r.headers["x-request-id"] == "req-123"
    lines = [x for x in map(json.loads, out.getvalue().splitlines()) if x["logger"] == "aomi.test"]
    assert [(x["logger"], x["level"]) for x in lines] == [("aomi.test", "info"), ("aomi.test", "warning")]
    for line in lines:
        assert line["request_id"] == "req-123" and line["session_id"] == SID
        assert "timestamp" in line
    assert lines[0]["event"] == "handling with key [redacted]"
    assert lines[1]["detail"] == "Bearer [redacted]"


@pytest.mark.usefixtures("restore_logging")
async def test_text_lines_and_a_fresh_request_id() -> None:
    out = io.StringIO()
    configure_logging("info", "text", out)
    r = await _call({"X-Request-Id": "bad id with spaces"})  # not echoed: a new id instead
    request_id = r.headers["x-request-id"]
    assert len(request_id) >= 13 and request_id != "bad id with spaces"
    first = out.getvalue().splitlines()[0]
    assert "handling with key [redacted]" in first and f"request_id={request_id}" in first
    assert "session_id" not in first  # no session header, no session id
    logging.getLogger("aomi.test").info("outside any request")
    assert "request_id" not in out.getvalue().splitlines()[-1]


def test_redaction_patterns() -> None:
    assert (
        redact_text("key sk-ant-api03-abcdefghijk and sk-mcd-" + "B" * 43) == "key [redacted] and [redacted]"
    )
    assert (
        redact_text("GET /x?api_key=hunter22&x=1 token=abcd1234")
        == "GET /x?api_key=[redacted]&x=1 token=[redacted]"
    )
    assert redact_text("Authorization: Bearer eyJhbGciOi.abc") == "Authorization: Bearer [redacted]"
    assert redact_text("nothing secret here: sk-1") == "nothing secret here: sk-1"
