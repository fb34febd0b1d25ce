"""HTTP tools: how arguments and secrets become a request, and how answers and failures come back."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import pytest
from pydantic_ai import RunContext, ToolFailed

from aomi.agent.deps import TurnDeps
from aomi.apps.app import HttpToolSpec
from aomi.apps.httptool import RESULT_MAX_CHARS, call, select

SCHEMA = {
    "type": "object",
    "required": ["id"],
    "properties": {
        "id": {"type": "string"},
        "n": {"type": "integer"},
        "ratio": {"type": "number"},
        "flag": {"type": "boolean"},
        "tags": {"type": "array"},
    },
}


@dataclass
class Deps:
    """What `call` uses of TurnDeps: `secret` and `http`."""

    http: httpx.AsyncClient
    values: dict[str, str] = field(default_factory=lambda: {"KEY": "s3cr3t", "BASE": "https://api.test"})

    async def secret(self, name: str) -> str:
        return self.values[name]


@dataclass
class Ctx:
    deps: Deps


def _ctx(
    handler: Callable[[httpx.Request], httpx.Response],
) -> tuple[RunContext[TurnDeps], list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(record))
    return cast(RunContext[TurnDeps], Ctx(Deps(client))), seen


def _spec(**changes: Any) -> HttpToolSpec:
    base: dict[str, Any] = {
        "name": "thing",
        "description": "d",
        "method": "GET",
        "url": "{secret.BASE}/things/{id}",
        "parameters": SCHEMA,
        "headers": (("Authorization", "Bearer {secret.KEY}"),),
        "query": (("limit", "{n}"),),
    }
    return HttpToolSpec(**{**base, **changes})


def _json(body: Any, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=body)


async def test_get_fills_url_headers_query_and_sends_the_rest_as_query() -> None:
    ctx, seen = _ctx(_json({"ok": True}))
    out = await call(_spec(), ctx, {"id": "a/b c", "n": 5, "flag": True, "tags": ["x"]})
    assert out == '{"ok": true}'
    (request,) = seen
    assert request.method == "GET"
    assert (
        request.url.raw_path.split(b"?")[0] == b"/things/a%2Fb%20c"
    )  # arguments are URL-encoded in the path
    assert request.url.host == "api.test"  # a secret may be the base URL: filled in as it is
    assert request.headers["Authorization"] == "Bearer s3cr3t"
    assert dict(request.url.params) == {"limit": "5", "flag": "true", "tags": '["x"]'}


async def test_optional_argument_left_out_drops_its_query_entry() -> None:
    ctx, seen = _ctx(_json([1]))
    await call(_spec(), ctx, {"id": "1"})
    assert dict(seen[0].url.params) == {}


async def test_post_sends_the_unused_arguments_as_json() -> None:
    ctx, seen = _ctx(_json({"created": 1}))
    await call(_spec(method="POST", query=()), ctx, {"id": "7", "ratio": 0.5, "tags": ["a"]})
    assert json.loads(seen[0].content) == {"ratio": 0.5, "tags": ["a"]}


async def test_select_and_clip() -> None:
    ctx, _ = _ctx(_json({"data": {"items": [{"price": 1.5}, {"price": 2}]}}))
    assert await call(_spec(select="data.items.1.price"), ctx, {"id": "1"}) == "2"
    with pytest.raises(ToolFailed, match=re.escape("the answer has no field 'data.items.5'")):
        await call(_spec(select="data.items.5.price"), ctx, {"id": "1"})
    ctx, _ = _ctx(lambda r: httpx.Response(200, text="x" * (RESULT_MAX_CHARS + 10)))
    out = await call(_spec(), ctx, {"id": "1"})
    assert out.endswith(f"(cut: {RESULT_MAX_CHARS + 10} characters in all)")
    with pytest.raises(ToolFailed, match=re.escape("the answer is not JSON, so 'a' cannot be selected")):
        await call(_spec(select="a"), ctx, {"id": "1"})


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({}, "missing required argument"),
        ({"id": 1}, "argument 'id' must be of JSON type string"),
        ({"id": "1", "n": True}, "argument 'n' must be of JSON type integer"),
        ({"id": "1", "n": 1.5}, "argument 'n' must be of JSON type integer"),
        ({"id": "1", "ratio": "x"}, "argument 'ratio' must be of JSON type number"),
        ({"id": "1", "zzz": 1}, "unknown argument 'zzz' (the tool takes: id, n, ratio, flag, tags)"),
    ],
)
async def test_bad_arguments(args: dict[str, Any], error: str) -> None:
    ctx, seen = _ctx(_json({}))
    with pytest.raises(ToolFailed, match=re.escape(error)):
        await call(_spec(), ctx, args)
    assert seen == []


async def test_failures_are_clear() -> None:
    ctx, _ = _ctx(_json({"error": "nope"}, status=503))
    with pytest.raises(
        ToolFailed, match=re.escape('thing: the service answered 503 Service Unavailable: {"error":"nope"}')
    ):
        await call(_spec(), ctx, {"id": "1"})
    ctx, _ = _ctx(
        lambda r: httpx.Response(200, content=b"{not json", headers={"content-type": "application/json"})
    )
    with pytest.raises(ToolFailed, match="thing: the service sent invalid JSON"):
        await call(_spec(), ctx, {"id": "1"})

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    ctx, _ = _ctx(timeout)
    with pytest.raises(ToolFailed, match=re.escape("thing: no answer within 2.5 s")):
        await call(_spec(timeout_seconds=2.5), ctx, {"id": "1"})

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    ctx, _ = _ctx(refused)
    with pytest.raises(ToolFailed, match="thing: the request failed: ConnectError: connection refused"):
        await call(_spec(), ctx, {"id": "1"})


def test_select_walks_lists_and_objects() -> None:
    assert select({"a": [{"b": "c"}]}, "a.0.b") == "c"
    with pytest.raises(ToolFailed, match=re.escape("'a.x'")):
        select({"a": [1]}, "a.x")
