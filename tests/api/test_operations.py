"""/health, /ready and CORS."""

from __future__ import annotations

from aomi.agent.models import ModelRegistry
from aomi.db.engine import create_engine
from aomi.settings import Settings
from tests.support.harness import Harness, new_id, running


async def test_health_and_ready(server: Harness) -> None:
    assert (await server.client.get("/health")).text == "OK"
    r = await server.client.get("/ready")
    assert (r.status_code, r.text) == (200, "ready")


async def test_ready_is_503_without_a_database(server: Harness) -> None:
    working = server.services.engine
    server.services.engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/unreachable")
    try:
        r = await server.client.get("/ready")
        assert r.status_code == 503 and r.text.startswith("the database is unavailable")
    finally:
        await server.services.engine.dispose()
        server.services.engine = working
    assert (await server.client.get("/ready")).status_code == 200


async def test_no_cors_headers_by_default(server: Harness) -> None:
    r = await server.client.get("/health", headers={"Origin": "https://widget.example"})
    assert "access-control-allow-origin" not in r.headers


async def test_cors_for_configured_origins(api_settings: Settings, models: ModelRegistry) -> None:
    settings = api_settings.model_copy(update={"cors_origins": ["https://widget.example"]})
    async with running(settings, models) as h:
        preflight = await h.client.options(
            "/api/chat",
            headers={
                "Origin": "https://widget.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-session-id, aomi-app-key",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://widget.example"
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert "x-session-id" in allowed and "aomi-app-key" in allowed
        r = await h.client.get(
            "/api/sessions",
            params={"public_key": "0x" + "11" * 20},
            headers={"Origin": "https://widget.example"},
        )
        assert r.headers["access-control-allow-origin"] == "https://widget.example"
        assert "x-next-cursor" in r.headers["access-control-expose-headers"].lower()
        other = await h.client.get(
            "/api/state", headers={"Origin": "https://evil.example", "X-Session-Id": new_id()}
        )
        assert "access-control-allow-origin" not in other.headers
