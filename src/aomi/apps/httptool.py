"""HTTP tools declared in a manifest (`[[http_tools]]`): one request per call, with arguments and
secrets filled into the URL, headers and query; the answer (or a field of it) is the result.

Every failure is a failed tool result that says what went wrong, with secret values redacted;
the model never sees a secret, since secrets are filled in here, server-side.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
from pydantic_ai import RunContext, Tool, ToolFailed

from aomi.agent.deps import TurnDeps
from aomi.apps.app import HttpToolSpec
from aomi.apps.templates import placeholders, render

RESULT_MAX_CHARS = 16_000
BODY_METHODS = {"POST", "PUT", "PATCH"}
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def check_args(spec: HttpToolSpec, args: Mapping[str, Any]) -> None:
    """The model's arguments against the declared schema: known names, required ones, JSON types."""
    properties: dict[str, Any] = spec.parameters.get("properties", {})
    for name, value in args.items():
        if name not in properties:
            raise ToolFailed(f"unknown argument {name!r} (the tool takes: {', '.join(properties) or 'none'})")
        expected = properties[name].get("type")
        ok = isinstance(value, _PY_TYPES.get(expected, (object,)))
        if expected in ("integer", "number") and isinstance(value, bool):
            ok = False
        if not ok:
            raise ToolFailed(f"argument {name!r} must be of JSON type {expected}")
    missing = [name for name in spec.parameters.get("required", []) if args.get(name) is None]
    if missing:
        raise ToolFailed(f"missing required argument(s): {', '.join(missing)}")


def select(value: Any, path: str) -> Any:
    """`data.items.0.price` into a JSON value; ToolFailed naming the part that is missing."""
    for i, part in enumerate(path.split(".")):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            at = ".".join(path.split(".")[: i + 1])
            raise ToolFailed(f"the answer has no field {at!r}")
    return value


def _clip(text: str) -> str:
    if len(text) <= RESULT_MAX_CHARS:
        return text
    return f"{text[:RESULT_MAX_CHARS]}… (cut: {len(text)} characters in all)"


async def call(spec: HttpToolSpec, ctx: RunContext[TurnDeps], args: dict[str, Any]) -> str:
    check_args(spec, args)
    deps = ctx.deps
    secrets = {
        name: await deps.secret(name)
        for template in (spec.url, *(v for _, v in spec.headers), *(v for _, v in spec.query))
        for name in placeholders(template)[1]
    }
    present = {k: v for k, v in args.items() if v is not None}
    used: set[str] = set()

    def fill(template: str, encode: Any = str) -> str | None:
        params = placeholders(template)[0]
        if any(p not in present for p in params):
            return None  # an optional argument left out: the header or query entry is dropped
        used.update(params)
        return render(template, present, secrets.__getitem__, encode)

    url = fill(spec.url, lambda v: quote(v, safe=""))
    assert url is not None  # the URL's parameters are required (checked at load)
    headers = {k: v for k, t in spec.headers if (v := fill(t)) is not None}
    query = {k: v for k, t in spec.query if (v := fill(t)) is not None}
    rest = {k: v for k, v in present.items() if k not in used}
    body: Any = None
    if spec.method in BODY_METHODS:
        body = rest
    else:
        query.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in rest.items()})
    try:
        response = await deps.http.request(
            spec.method, url, params=query, headers=headers, json=body, timeout=spec.timeout_seconds
        )
    except httpx.TimeoutException:
        raise ToolFailed(f"{spec.name}: no answer within {spec.timeout_seconds:g} s") from None
    except httpx.HTTPError as exc:
        raise ToolFailed(f"{spec.name}: the request failed: {type(exc).__name__}: {exc}") from None
    if response.status_code >= 400:
        detail = " ".join(response.text.split())[:300]
        raise ToolFailed(
            f"{spec.name}: the service answered {response.status_code} {response.reason_phrase}"
            + (f": {detail}" if detail else "")
        )
    if "json" in response.headers.get("content-type", ""):
        try:
            value: Any = response.json()
        except ValueError:
            raise ToolFailed(f"{spec.name}: the service sent invalid JSON") from None
        if spec.select is not None:
            value = select(value, spec.select)
        return _clip(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
    if spec.select is not None:
        raise ToolFailed(f"{spec.name}: the answer is not JSON, so {spec.select!r} cannot be selected")
    return _clip(response.text)


def http_tool(spec: HttpToolSpec) -> Tool[TurnDeps]:
    async def run(ctx: RunContext[TurnDeps], **args: Any) -> str:
        return await call(spec, ctx, args)

    return Tool[TurnDeps].from_schema(run, spec.name, spec.description, spec.parameters, takes_ctx=True)
