"""One error shape for every failure, locked by walking every domain error class."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

import aomi.errors as errors
from aomi.api.errors import install_error_handlers
from aomi.api.limits import BodyLimitMiddleware


def _all_error_classes() -> list[type[errors.AomiError]]:
    found: list[type[errors.AomiError]] = []
    todo: list[type[errors.AomiError]] = [errors.AomiError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


class Body(BaseModel):
    n: int


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=100)

    @app.get("/raise/{name}")
    async def raise_named(name: str) -> None:
        cls = {c.__name__: c for c in _all_error_classes()}[name]
        raise cls(f"{name} happened")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    @app.post("/body")
    async def body(b: Body) -> int:
        return b.n

    return app


@pytest.fixture
async def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


def _assert_shape(r: httpx.Response, status: int) -> dict[str, str]:
    assert r.status_code == status
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert re.fullmatch(r"[a-z][a-z0-9_]*", body["error"]["code"])
    assert body["error"]["message"]
    err: dict[str, str] = body["error"]
    return err


async def test_every_domain_error_renders_the_one_shape(client: httpx.AsyncClient) -> None:
    classes = _all_error_classes()
    assert len(classes) > 10
    codes = set()
    for cls in classes:
        r = await client.get(f"/raise/{cls.__name__}")
        err = _assert_shape(r, cls.status)
        assert 400 <= cls.status < 500 or cls.status == 503
        assert err["code"] == cls.code and err["message"] == f"{cls.__name__} happened"
        codes.add(cls.code)
    assert len(codes) == len(classes), "two error classes share a code"


async def test_framework_errors_use_the_shape_too(client: httpx.AsyncClient) -> None:
    assert _assert_shape(await client.get("/nowhere"), 404)["code"] == "not_found"
    assert _assert_shape(await client.delete("/boom"), 405)["code"] == "method_not_allowed"
    err = _assert_shape(await client.post("/body", json={"n": "x"}), 400)
    assert err["code"] == "invalid_input" and "n" in err["message"]
    assert _assert_shape(await client.post("/body", content=b"x" * 101), 413)["code"] == "payload_too_large"


async def test_unexpected_errors_are_500_without_internals(client: httpx.AsyncClient) -> None:
    err = _assert_shape(await client.get("/boom"), 500)
    assert err["code"] == "internal_error"
    assert "secret internals" not in err["message"]


async def test_chunked_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * 50

    r = await client.post("/body", content=chunks())
    _assert_shape(r, 413)


def test_error_module_has_no_stray_classes() -> None:
    text = Path(errors.__file__).read_text()
    # + ManifestError, SecretKeyError, ModelConfigError, ChainConfigError: raised outside
    # HTTP, never rendered
    assert text.count("class ") == len(_all_error_classes()) + 4
