"""Every answer carries the security headers: JSON, errors before a route runs, preflights."""

from __future__ import annotations

import httpx
import pytest

from aomi.api.headers import SECURITY_HEADERS
from aomi.settings import Settings
from tests.support.harness import Harness, new_id, running, serving

EXPECTED = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}


def _check(response: httpx.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.request.url, name, response.headers)


async def test_json_answers_and_errors_carry_them(server: Harness) -> None:
    sid = new_id()
    _check(await server.client.get("/health"))
    _check(await server.state(sid))
    _check(await server.client.get("/api/state"))  # 400: no session header
    _check(await server.client.get("/nowhere"))  # 404 from the router
    _check(
        await server.client.post(
            "/api/chat",
            params={"message": "x"},
            headers={"X-Session-Id": sid},
            content=b"x" * (2 * 1024 * 1024),
        )
    )  # 413 from the body limit
    _check(
        await server.client.get("/api/state", headers={"X-Session-Id": sid, "X-Bad": "a\x00"[:1] * 70_000})
    )


@pytest.mark.parametrize("origin", ["https://app.example.com"])
async def test_preflights_carry_them(settings: Settings, origin: str) -> None:
    cors = settings.model_copy(update={"cors_origins": [origin]})
    async with running(cors) as h:
        r = await h.client.options(
            "/api/state",
            headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
        )
        assert r.status_code == 200
        _check(r)


async def test_a_route_keeps_its_own_header(settings: Settings) -> None:
    """The event stream sets its own Cache-Control: it is kept, and not doubled."""
    async with serving(settings) as live, httpx.AsyncClient(base_url=live.url, timeout=10) as client:
        headers = {"X-Session-Id": new_id()}
        async with client.stream("GET", "/api/updates", headers=headers) as r:
            assert r.status_code == 200
            assert r.headers.get_list("cache-control") == ["no-store"]
            assert r.headers["x-content-type-options"] == "nosniff"
