"""Property: no input breaks the server or a session (SQLite and PostgreSQL).

Hypothesis sends generated hostile text (NUL, lone surrogates, control and astral characters),
JSON (deep, wide, odd numbers) and numbers (beyond 64 bits, non-ASCII digits) to every route
that takes input, as query fields and as JSON body fields. Every answer must be below 500 and,
when an error, have the one error shape; afterwards the session answers state and chat normally.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aomi.agent.models import ModelRegistry
from aomi.settings import Settings
from tests.api.test_faults import assert_healthy
from tests.support.harness import Harness, headers, new_id, running

SID = new_id()
EXAMPLES = 300

# Route, the fields it reads, and whether they may come in a JSON body too.
ROUTES: list[tuple[str, str, tuple[str, ...], bool]] = [
    ("POST", "/api/chat", ("message", "app", "public_key", "user_state", "client_id"), True),
    ("GET", "/api/state", ("user_state", "client_id", "app"), False),
    ("POST", "/api/system", ("message", "app"), True),
    ("GET", "/api/events", ("count", "app"), False),
    ("POST", "/api/interrupt", ("app",), False),
    ("POST", "/api/sessions", ("public_key", "app"), True),
    ("GET", "/api/sessions", ("public_key", "limit", "cursor"), False),
    ("GET", "/api/sessions/{sid}", ("app",), False),
    ("PATCH", "/api/sessions/{sid}", ("title",), True),
    ("POST", "/api/sessions/{sid}/archive", ("app",), False),
    ("POST", "/api/control/model", ("rig", "app", "client_id"), False),
    ("GET", "/api/control/models", ("app",), False),
    ("GET", "/api/control/apps", ("detail",), False),
    ("POST", "/api/wallet/verify", ("message", "signature"), True),
]

any_char = st.characters(codec=None, exclude_categories=())  # surrogates included
text = st.one_of(
    st.text(any_char, max_size=40),
    st.sampled_from(["\x00", "a\x00b", "\udc00x", "\ud800", "²", "١٢", "0x" + "g" * 40, " ", "", "null"]),
)
numbers = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["9" * 5000, "1e400", "-0", "0x10", "+1", "1_000"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers.filter(lambda n: not isinstance(n, str)) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=20,
)
deep = st.integers(min_value=30, max_value=3000).map(lambda n: "[" * n + "]" * n)
values = st.one_of(text, numbers, json_values.map(json.dumps), deep)


def _as_query(field: str, value: Any) -> str:
    """``field=value`` percent-encoded from raw bytes: a lone surrogate goes out as the bytes a
    careless client would send (``%ED%B0%80``), since no valid UTF-8 can carry it."""
    raw = value if isinstance(value, str) else json.dumps(value)
    return f"{field}={quote(raw.encode('utf-8', 'surrogatepass'), safe='')}"


@pytest.fixture
def harness(
    api_settings: Settings, models: ModelRegistry
) -> Iterator[tuple[asyncio.AbstractEventLoop, Harness]]:
    """One server for all the examples of a test, in an event loop the sync test drives."""
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()
    h = loop.run_until_complete(stack.enter_async_context(running(api_settings, models)))
    try:
        yield loop, h
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()


async def _probe(
    h: Harness, route: tuple[str, str, tuple[str, ...], bool], field: str, value: Any, body: bool
) -> None:
    method, path, _, _ = route
    path = path.replace("{sid}", SID)
    if body:
        content = json.dumps({field: value}, ensure_ascii=True).encode()
        r = await h.client.request(
            method, path, content=content, headers={**headers(SID), "Content-Type": "application/json"}
        )
    else:
        r = await h.client.request(method, f"{path}?{_as_query(field, value)}", headers=headers(SID))
    assert r.status_code < 500, (method, path, field, value, r.status_code, r.text)
    if r.status_code >= 400:
        error = r.json()["error"]
        assert set(error) == {"code", "message"} and error["message"], r.text


def test_no_input_breaks_the_server_or_the_session(
    harness: tuple[asyncio.AbstractEventLoop, Harness],
) -> None:
    loop, h = harness
    loop.run_until_complete(h.chat(SID, "hi"))
    loop.run_until_complete(h.wait_idle(SID))

    probes: list[int] = []

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(data=st.data())
    def probe(data: st.DataObject) -> None:
        route = data.draw(st.sampled_from(ROUTES))
        field = data.draw(st.sampled_from(route[2]))
        value = data.draw(values)
        body = route[3] and data.draw(st.booleans())
        loop.run_until_complete(_probe(h, route, field, value, body))
        probes.append(1)

    probe()
    assert len(probes) >= EXAMPLES
    loop.run_until_complete(h.wait_idle(SID))
    loop.run_until_complete(h.client.post(f"/api/sessions/{SID}/unarchive"))
    loop.run_until_complete(assert_healthy(h, SID))
