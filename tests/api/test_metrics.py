"""`GET /metrics`: Prometheus text with requests, latency, turns, tool calls and live gauges."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from aomi.settings import Settings
from tests.support.harness import Harness, new_id, running


async def _samples(
    client: httpx.AsyncClient, **headers: str
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    r = await client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_requests_turns_tools_and_gauges(server: Harness) -> None:
    key = await server.issue_key("mycoindex")
    sid = new_id()
    assert (await server.chat(sid, "What is the price of ETH?", app="mycoindex", key=key)).status_code == 200
    await server.wait_idle(sid, app="mycoindex", key=key)
    await server.client.get("/nowhere")
    samples = await _samples(server.client)
    assert _value(samples, "aomi_http_requests_total", method="POST", route="/api/chat", status="200") == 1
    assert _value(samples, "aomi_http_requests_total", method="GET", route="/api/state", status="200") >= 1
    assert _value(samples, "aomi_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert _value(samples, "aomi_http_request_duration_seconds_count", method="POST", route="/api/chat") == 1
    assert _value(samples, "aomi_turns_total", status="idle") == 1
    assert _value(samples, "aomi_tool_calls_total", tool="get_token_price") == 1
    assert _value(samples, "aomi_sessions_in_memory") >= 1
    assert _value(samples, "aomi_turns_running") == 0
    assert _value(samples, "aomi_sse_subscribers") == 0
    assert _value(samples, "aomi_key_cache_lookups_total", result="miss") == 1  # the chat's first look
    assert _value(samples, "aomi_key_cache_lookups_total", result="hit") >= 1  # the polls after it
    assert (await server.client.get("/metrics")).headers["x-content-type-options"] == "nosniff"


async def test_a_metrics_token_is_required_when_set(settings: Settings) -> None:
    guarded = settings.model_copy(update={"metrics_token": SecretStr("scrape-me-please")})
    async with running(guarded) as h:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = await h.client.get("/metrics", headers=headers)
            assert r.status_code == 401
            assert r.json()["error"]["code"] == "metrics_token_invalid"
        samples = await _samples(h.client, Authorization="Bearer scrape-me-please")
        assert _value(samples, "aomi_http_requests_total", method="GET", route="/metrics", status="401") == 2
