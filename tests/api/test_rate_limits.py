"""Rate limits per App key and per session: 429 with Retry-After, counted in memory or in Redis
(shared by every process that uses it)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import coredis
import pytest
import pytest_asyncio

from aomi.api.ratelimit import RateLimits
from aomi.settings import Settings
from tests.support.harness import new_id, running, write_app

REDIS_URL = "redis://127.0.0.1:6379/15"


def _limited(settings: Settings, **limits: str) -> Settings:
    write_app(settings.apps_dir, "keyed")
    return settings.model_copy(update=limits)


async def test_a_session_over_its_limit_gets_429_with_retry_after(settings: Settings) -> None:
    async with running(_limited(settings, rate_limit_per_session="3/minute")) as h:
        sid, other = new_id(), new_id()
        assert [(await h.state(sid)).status_code for _ in range(3)] == [200, 200, 200]
        r = await h.state(sid)
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limited"
        assert r.json()["error"]["message"].startswith(
            "too many requests for this session: at most 3 per 1 minute"
        )
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert r.headers["x-content-type-options"] == "nosniff"
        assert (await h.state(other)).status_code == 200  # another session has its own count
        assert (await h.client.get("/health")).status_code == 200  # never limited


async def test_a_key_over_its_limit_gets_429_whatever_the_session(settings: Settings) -> None:
    async with running(_limited(settings, rate_limit_per_key="2/minute")) as h:
        key = await h.issue_key("keyed")
        codes = [(await h.state(new_id(), app="keyed", key=key)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert (await h.state(new_id(), app="keyed", key=await h.issue_key("keyed"))).status_code == 200
        # An unknown key is counted too (a brute force is slowed down), and refused as usual before.
        bad = "sk-nope-" + "x" * 30
        assert [(await h.state(new_id(), app="keyed", key=bad)).status_code for _ in range(3)] == [
            401,
            401,
            429,
        ]


async def test_limits_can_be_off(settings: Settings) -> None:
    async with running(_limited(settings)) as h:  # the test settings turn both off
        sid = new_id()
        assert {(await h.state(sid)).status_code for _ in range(50)} == {200}


@pytest_asyncio.fixture
async def redis_db() -> AsyncIterator[str]:
    client: coredis.Redis[str] = coredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        await client.flushdb()
    except Exception as exc:  # pragma: no cover - .ci/run starts Redis
        pytest.fail(f"Redis is needed at {REDIS_URL}: {exc}")
    yield REDIS_URL
    await client.flushdb()
    client.connection_pool.disconnect()


async def test_redis_counts_for_every_process(redis_db: str) -> None:
    """Two limiters on one Redis (two replicas) share the count; a fresh id starts at zero."""
    secret = b"s" * 32
    a = RateLimits("off", "4/minute", secret, redis_db)
    b = RateLimits("off", "4/minute", secret, redis_db)
    sid = str(uuid.uuid4())
    results = [await (a if i % 2 else b).check(None, sid) for i in range(5)]
    assert results[:4] == [None] * 4
    refused = results[4]
    assert refused is not None and refused.what == "session" and 1 <= refused.retry_after <= 60
    assert await a.check(None, str(uuid.uuid4())) is None
    # What Redis holds: hashed ids, never the session id or a key.
    client: coredis.Redis[str] = coredis.Redis.from_url(redis_db, decode_responses=True)
    keys = list(await client.keys("*"))
    client.connection_pool.disconnect()
    await a.aclose()
    await b.aclose()
    assert keys and not any(sid in k for k in keys)


async def test_an_unreachable_redis_lets_requests_through(caplog: pytest.LogCaptureFixture) -> None:
    limits = RateLimits("1/minute", "off", b"s" * 32, "redis://127.0.0.1:9/0")
    assert await limits.check("k", None) is None
    assert await limits.check("k", None) is None
    await limits.aclose()
    assert [r.getMessage() for r in caplog.records if r.name == "aomi.limits"] == [
        "rate limit storage unavailable (ConnectionError); requests are not limited"
    ]


def test_a_bad_rate_is_a_settings_error(settings: Settings) -> None:
    with pytest.raises(ValueError, match="'lots' is not a rate such as 300/minute"):
        Settings(rate_limit_per_key="lots")
