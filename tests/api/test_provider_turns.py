"""Turns on the real provider clients (OpenAI Chat Completions, Anthropic Messages, Gemini) against
scripted fake servers on loopback, through the HTTP API, on SQLite and PostgreSQL: text streams
into the session, tool calls become messages, the model history survives eviction, a restart and
a switch of provider, an interrupt closes the upstream connection, failures and limits end the
turn with a clear `SystemError`, a client's own key replaces the server's, usage adds up."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import select

from aomi.agent.models import default_model_registry
from aomi.db import tables
from aomi.settings import Settings
from aomi.usage import UsageTotal
from tests.support.harness import Harness, headers, new_id, poll, running, write_app
from tests.support.price_server import FakePriceApi
from tests.support.providers import FakeProvider, Reply, SeenRequest, ToolCall

SERVER_KEY = "sk-server-" + "S3rv" * 10
CLIENT_KEY = "sk-client-" + "C1nt" * 10
APP = "chain"
# label -> (provider, model, wire)
MODELS = {
    "gpt": ("openai", "gpt-4o", "openai"),
    "claude": ("anthropic", "claude-haiku-4-5", "anthropic"),
    "gemini": ("google", "gemini-2.5-flash", "gemini"),
}
ENV = {"openai": "OPENAI", "anthropic": "ANTHROPIC", "google": "GEMINI"}
PRICE_CALL = ToolCall("get_token_price", {"symbol": "ETH"})
PRICE_RESULT = "ETH price: $3,456.78 USD"
TOOL_MESSAGE = ["get_token_price(symbol=ETH)", PRICE_RESULT]
labels = pytest.mark.parametrize("label", list(MODELS))


@pytest.fixture
def provider_settings(
    settings: Settings, price_api: FakePriceApi, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """`AOMI_MODELS` with the three wires, their base URLs and server keys in the environment, as an
    operator configures them; the App `chain` allows all three (default `gpt`) and the price tool."""
    bases = {
        "openai": fake.openai_base_url,
        "anthropic": fake.anthropic_base_url,
        "google": fake.gemini_base_url,
    }
    for provider, prefix in ENV.items():
        monkeypatch.setenv(f"{prefix}_BASE_URL", bases[provider])
        monkeypatch.setenv(f"{prefix}_API_KEY", SERVER_KEY)
    write_app(settings.apps_dir, APP, public=True, models=tuple(MODELS))
    entries = ",".join(f"{label}={provider}:{model}" for label, (provider, model, _) in MODELS.items())
    return settings.model_copy(
        update={"price_api_url": price_api.url, "models": entries, "provider_retries": 0}
    )


@asynccontextmanager
async def serve(settings: Settings, **changes: Any) -> AsyncIterator[Harness]:
    changed = settings.model_copy(update=changes)
    async with running(changed, default_model_registry(changed)) as server:
        yield server


async def use_model(server: Harness, sid: str, label: str, app: str = APP, key: str | None = None) -> None:
    r = await server.client.post(
        "/api/control/model", params={"rig": label, "app": app}, headers=headers(sid, key)
    )
    assert r.status_code == 200, r.text


async def turn(
    server: Harness, sid: str, message: str, app: str = APP, key: str | None = None, **params: str
) -> dict[str, Any]:
    """One chat turn, to its end: the final snapshot."""
    r = await server.chat(sid, message, app=app, key=key, **params)
    assert r.status_code == 200, r.text
    return await server.wait_idle(sid, app=app, key=key)


def agent_messages(body: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(m["content"], m["tool_result"]) for m in body["messages"] if m["sender"] == "agent"]


def carries_the_price_call(request: SeenRequest) -> bool:
    return request.tool_calls() == [("get_token_price", {"symbol": "ETH"})] and request.tool_results() == [
        PRICE_RESULT
    ]


@labels
async def test_text_streams_into_the_state_and_a_tool_call_is_a_message(
    label: str, provider_settings: Settings, fake: FakeProvider
) -> None:
    gate = threading.Event()
    fake.script[:] = [
        Reply(text=["Let me ", "look it up."], tool_calls=[PRICE_CALL]),
        Reply(text=["ETH is ", "$3,456.78."], hang_after=1, gate=gate),
    ]
    async with serve(provider_settings) as server:
        sid = new_id()
        await use_model(server, sid, label)
        assert (await server.chat(sid, "What is ETH worth?", app=APP)).status_code == 200
        mid = await poll(
            lambda: server.state(sid, app=APP),
            lambda b: any(m["content"] == "ETH is " and m["is_streaming"] for m in b["messages"]),
        )
        assert mid["is_processing"] is True
        # Before the answer's first text, the tool work was already there, complete.
        assert agent_messages(mid)[:2] == [
            ("Let me look it up.", None),
            ("", TOOL_MESSAGE),
        ]
        gate.set()
        body = await server.wait_idle(sid, app=APP)
    assert body["status"] == "idle" and body["system_events"] == []
    assert agent_messages(body) == [
        ("Let me look it up.", None),
        ("", TOOL_MESSAGE),
        ("ETH is $3,456.78.", None),
    ]
    assert not any(m["is_streaming"] for m in body["messages"])
    wire = MODELS[label][2]
    assert [r.wire for r in fake.requests] == [wire, wire]
    assert [r.stream for r in fake.requests] == [True, True]
    assert carries_the_price_call(fake.requests[1])
    assert {r.auth() for r in fake.requests} == {SERVER_KEY}


async def test_the_next_turn_carries_the_tool_work_after_eviction_a_restart_and_a_switch(
    provider_settings: Settings, fake: FakeProvider
) -> None:
    sid = new_id()
    fake.script[:] = [Reply(tool_calls=[PRICE_CALL]), Reply(text=["ETH is $3,456.78."])]
    async with serve(provider_settings, session_idle_seconds=0.01) as server:
        await turn(server, sid, "What is ETH worth?")
        await asyncio.sleep(0.02)
        assert server.services.manager.evict() >= 1
        assert await server.services.manager.get(sid) is not None  # loaded again from the database
        server.services.manager.forget(sid)
        await turn(server, sid, "And after eviction?")
    after_eviction = fake.requests[-1]
    assert after_eviction.wire == "openai" and carries_the_price_call(after_eviction)

    async with serve(provider_settings) as server:  # a restart: nothing in memory, same database
        await turn(server, sid, "And after a restart?")
        after_restart = fake.requests[-1]
        await use_model(server, sid, "claude")
        await turn(server, sid, "And on Anthropic?")
        on_anthropic = fake.requests[-1]
        await use_model(server, sid, "gemini")
        body = await turn(server, sid, "And on Gemini?")
        on_gemini = fake.requests[-1]
    assert after_restart.wire == "openai" and carries_the_price_call(after_restart)
    assert on_anthropic.wire == "anthropic" and carries_the_price_call(on_anthropic)
    assert on_gemini.wire == "gemini" and carries_the_price_call(on_gemini)
    assert body["status"] == "idle"
    assert len(fake.requests) == 6  # two for the tool turn, one for each later turn


@labels
async def test_interrupt_closes_the_upstream_connection_and_keeps_the_partial_answer(
    label: str, provider_settings: Settings, fake: FakeProvider
) -> None:
    fake.script[:] = [Reply(text=["Hello", " and the rest"], hang_after=1)]
    async with serve(provider_settings) as server:
        sid = new_id()
        await use_model(server, sid, label)
        assert (await server.chat(sid, "Tell me a story", app=APP)).status_code == 200
        await poll(
            lambda: server.state(sid, app=APP), lambda b: any(m["content"] == "Hello" for m in b["messages"])
        )
        assert fake.disconnects == 0
        r = await server.client.post("/api/interrupt", headers=headers(sid))
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "interrupted"
        assert await asyncio.to_thread(fake.wait_disconnect, 2.0)
        body = await server.wait_idle(sid, app=APP)
    assert body["status"] == "interrupted" and body["system_events"] == []
    assert agent_messages(body) == [("Hello", None)]
    assert fake.disconnects == 1 and len(fake.requests) == 1


FAILURES = {
    "500": (Reply(status=500), "had a server error (HTTP 500)"),
    "429": (Reply(status=429), "is rate limiting or out of quota (HTTP 429); try again later"),
    "timeout": (Reply(text=["late"], first_byte_delay=3.0), "did not answer in time"),
    "too-long": (
        Reply(status=400),
        "refused the request: the conversation is too long for the model (HTTP 400)",
    ),
}


@labels
@pytest.mark.parametrize("failure", list(FAILURES))
async def test_a_provider_failure_ends_the_turn_in_error_with_a_clear_system_error(
    label: str, failure: str, provider_settings: Settings, fake: FakeProvider
) -> None:
    reply, cause = FAILURES[failure]
    fake.script[:] = [reply]
    # Short only where the timeout is the failure: a loaded machine may take longer than 0.3 s
    # to answer the others.
    timeout = 0.3 if failure == "timeout" else 10.0
    async with serve(provider_settings, provider_timeout_seconds=timeout) as server:
        sid = new_id()
        await use_model(server, sid, label)
        body = await turn(server, sid, "hello")
        assert body["status"] == "error"
        provider = MODELS[label][0]
        assert body["system_events"] == [
            {"SystemError": f"The model provider {provider} (model {label}) {cause}. The turn was stopped."}
        ]
        # Never a hung session: the next message gets an answer.
        assert agent_messages(await turn(server, sid, "hello again")) == [("ok", None)]
        # Its title request is answered before the server stops (one cut off by the stop would
        # reach the fake without its body, and count as a turn's request).
        await poll(lambda: server.client.get(f"/api/sessions/{sid}"), lambda b: b["title"] == fake.title)
    assert len(fake.requests) == 2


async def test_failures_before_the_first_byte_are_retried_with_backoff(
    provider_settings: Settings, fake: FakeProvider
) -> None:
    fake.script[:] = [Reply(status=429), Reply(status=503), Reply(text=["Third time lucky."])]
    async with serve(provider_settings, provider_retries=2) as server:
        sid = new_id()
        body = await turn(server, sid, "hello")
        assert (body["status"], agent_messages(body)) == ("idle", [("Third time lucky.", None)])
        fake.script[:] = [Reply(status=500)] * 3 + [Reply(status=401)]
        body = await turn(server, sid, "hello")
        assert body["status"] == "error"
        assert "had a server error (HTTP 500)" in body["system_events"][0]["SystemError"]
        assert len(fake.requests) == 6  # 1 + 2 retries, twice
        body = await turn(server, sid, "hello")  # a rejected key is not retried
        assert "rejected the API key (HTTP 401)" in body["system_events"][0]["SystemError"]
    assert len(fake.requests) == 7


async def test_a_runaway_tool_loop_stops_at_the_request_limit(
    provider_settings: Settings, fake: FakeProvider
) -> None:
    fake.script[:] = [Reply(tool_calls=[PRICE_CALL]) for _ in range(10)]
    async with serve(provider_settings, turn_request_limit=3) as server:
        body = await turn(server, new_id(), "loop forever")
    assert body["status"] == "error"
    [event] = body["system_events"]
    assert event["SystemError"].startswith("The turn hit a limit:")
    assert "request_limit of 3" in event["SystemError"]
    assert len(fake.requests) == 3
    assert [tool for _, tool in agent_messages(body)] == [TOOL_MESSAGE] * 3


async def test_the_output_token_limit_ends_the_turn_keeping_the_partial_answer(
    provider_settings: Settings, fake: FakeProvider
) -> None:
    fake.script[:] = [Reply(text=["A very ", "long answer"], output_tokens=500)]
    async with serve(provider_settings, turn_output_token_limit=100) as server:
        body = await turn(server, new_id(), "write an essay")
    assert body["status"] == "error"
    assert "output_tokens_limit of 100" in body["system_events"][0]["SystemError"]
    assert agent_messages(body) == [("A very long answer", None)]


async def all_rows_text(server: Harness) -> str:
    """Every column of every table, as text."""
    dumped: list[str] = []
    async with server.services.engine.connect() as conn:
        for table in tables.metadata.sorted_tables:
            dumped += [repr(tuple(row)) for row in await conn.execute(select(table))]
    return "\n".join(dumped)


@labels
async def test_a_clients_own_key_reaches_the_provider_instead_of_the_servers(
    label: str, provider_settings: Settings, fake: FakeProvider
) -> None:
    provider = MODELS[label][0]
    async with serve(provider_settings) as server:
        sid = new_id()
        await use_model(server, sid, label)
        await turn(server, sid, "hello", client_id="client-1")
        r = await server.client.post(
            "/api/control/provider-keys",
            json={"provider": provider, "api_key": CLIENT_KEY, "label": "mine"},
            headers=headers(sid),
        )
        assert r.status_code == 200, r.text
        await turn(server, sid, "hello with my key")
        # Another session of the same client uses the key too.
        other = new_id()
        await use_model(server, other, label)
        await turn(server, other, "hello from my other thread", client_id="client-1")
        stored = await all_rows_text(server)
        deleted = await server.client.delete(f"/api/control/provider-keys/{provider}", headers=headers(sid))
        assert deleted.json() == {"deleted": True}
        await turn(server, sid, "hello without it")
    assert [r.auth() for r in fake.requests] == [SERVER_KEY, CLIENT_KEY, CLIENT_KEY, SERVER_KEY]
    assert CLIENT_KEY not in stored and CLIENT_KEY[10:30] not in stored
    assert "client-1" in stored and provider in stored  # the dump did reach the keys' rows


async def test_a_model_without_a_server_key_runs_on_the_clients_key(
    provider_settings: Settings, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    async with serve(provider_settings) as server:
        sid = new_id()
        await turn(server, sid, "hello", client_id="client-2")
        offered = await server.client.get("/api/control/models", params={"app": APP}, headers=headers(sid))
        assert "claude" not in offered.json()
        r = await server.client.post(
            "/api/control/provider-keys",
            json={"provider": "anthropic", "api_key": CLIENT_KEY},
            headers=headers(sid),
        )
        assert r.status_code == 200, r.text
        offered = await server.client.get("/api/control/models", params={"app": APP}, headers=headers(sid))
        assert "claude" in offered.json()
        await use_model(server, sid, "claude")
        body = await turn(server, sid, "hello on Anthropic")
    assert body["status"] == "idle"
    assert [(r.wire, r.auth()) for r in fake.requests] == [("openai", SERVER_KEY), ("anthropic", CLIENT_KEY)]


async def test_usage_totals_equal_the_scripted_token_counts(
    provider_settings: Settings, fake: FakeProvider
) -> None:
    write_app(provider_settings.apps_dir, "paid", models=("gpt", "claude"))
    async with serve(provider_settings) as server:
        key = await server.issue_key("paid")
        [key_id] = [k.id for k in await server.services.keys.list()]
        sid = new_id()
        fake.script[:] = [
            Reply(text=["Checking."], tool_calls=[PRICE_CALL], input_tokens=11, output_tokens=7),
            Reply(text=["ETH is $3,456.78."], input_tokens=20, output_tokens=3),
        ]
        await turn(server, sid, "What is ETH worth?", app="paid", key=key)
        await poll(lambda: server.client.get(f"/api/sessions/{sid}"), lambda b: b["title"] == fake.title)
        await use_model(server, sid, "claude", app="paid", key=key)
        fake.script[:] = [Reply(text=["Hi."], input_tokens=5, output_tokens=2)]
        await turn(server, sid, "hello", app="paid", key=key)
        fake.script[:] = [Reply(status=500)]
        await turn(server, sid, "and again", app="paid", key=key)
        totals = await server.services.usage.totals(app="paid")
    assert [(t.model_label, t.provider, t.turns, t.requests, t.tool_calls, t.errors) for t in totals] == [
        ("claude", "anthropic", 2, 1, 0, 1),  # the failed request was answered with nothing to bill
        ("gpt", "openai", 1, 2 + 1, 1, 0),
    ]
    # The title request after the first exchange (3 + 2 tokens) is billed with the first turn.
    assert [(t.input_tokens, t.output_tokens) for t in totals] == [(5, 2), (31 + 3, 10 + 2)]
    assert all(isinstance(t, UsageTotal) and (t.app, t.key_id) == ("paid", key_id) for t in totals)
    assert all(t.duration_ms >= 0 for t in totals)


async def test_the_model_titles_the_session_but_never_over_a_manual_title(
    provider_settings: Settings, fake: FakeProvider
) -> None:
    async with serve(provider_settings) as server:
        sid = new_id()
        await turn(server, sid, "What is the price of ETH today please?")
        titled = await poll(
            lambda: server.client.get(f"/api/sessions/{sid}"), lambda b: b["title"] != "New Chat"
        )
        assert titled["title"] == "Scripted title"
        [asked] = fake.title_requests
        assert "What is the price of ETH today please?" in str(asked.body)

        gate = threading.Event()
        fake.script[:] = [Reply(text=["Partial", " answer"], hang_after=1, gate=gate)]
        manual = new_id()
        assert (await server.chat(manual, "hello there", app=APP)).status_code == 200
        r = await server.client.patch(f"/api/sessions/{manual}", json={"title": "Mine"})
        assert r.status_code == 200, r.text
        gate.set()
        await server.wait_idle(manual, app=APP)
        fake.title = ""  # an empty answer falls back to the heuristic title
        third = new_id()
        await turn(server, third, "Explain gas fees to me in detail")
        heuristic = await poll(
            lambda: server.client.get(f"/api/sessions/{third}"), lambda b: b["title"] != "New Chat"
        )
        fake.title, fake.title_status = "Never shown", 500  # and so does a failed title request
        fourth = new_id()
        await turn(server, fourth, "How do bridges between chains work?")
        failed = await poll(
            lambda: server.client.get(f"/api/sessions/{fourth}"), lambda b: b["title"] != "New Chat"
        )
        info = (await server.client.get(f"/api/sessions/{manual}")).json()
    assert info["title"] == "Mine"
    assert len(fake.title_requests) == 3  # none for the session titled by hand
    assert heuristic["title"] == "Explain gas fees to me in"
    assert failed["title"] == "How do bridges between chains work"


async def test_an_unreachable_provider_and_an_unknown_failure_are_named(
    provider_settings: Settings, fake: FakeProvider
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = provider_settings.model_copy(
        update={
            "models": f"{provider_settings.models},local=openai-compatible:qwen3@http://127.0.0.1:{port}/v1"
        }
    )
    write_app(dead.apps_dir, "local", public=True, models=("local",))
    async with serve(dead) as server:
        body = await turn(server, new_id(), "hello", app="local")
    assert body["system_events"] == [
        {
            "SystemError": "The model provider openai-compatible (model local) could not be reached. "
            "The turn was stopped."
        }
    ]
    # A failure of no known kind says what the provider said, without any key in it.
    fake.script[:] = [Reply(status=404, error_message=f"no such model for key {SERVER_KEY}")]
    async with serve(dead) as server:
        body = await turn(server, new_id(), "hello")
    [event] = body["system_events"]
    assert event["SystemError"].startswith("The model provider openai (model gpt) failed (HTTP 404): ")
    assert "no such model for key [redacted]" in event["SystemError"]
    assert SERVER_KEY not in event["SystemError"]
