"""`build_model` against scripted fake providers on a real loopback socket: the real OpenAI,
Anthropic and google-genai SDK clients, driven by a pydantic-ai Agent, stream text, call a tool,
report usage and errors, and close the upstream connection when the turn is cancelled."""

from __future__ import annotations

import asyncio
import gc
import socket
import subprocess
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
import pytest_asyncio
from pydantic_ai import Agent
from pydantic_ai.exceptions import (
    ModelAuthenticationError,
    ModelConnectionError,
    ModelContextWindowExceededError,
    ModelHTTPError,
    ModelRateLimitError,
    ModelServerError,
    ModelTimeoutError,
)
from pydantic_ai.messages import (
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ModelMessage,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
)
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.google import GoogleModel
from pydantic_ai.models.groq import GroqModel
from pydantic_ai.models.mistral import MistralModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.models.openrouter import OpenRouterModel
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.run import AgentRunResultEvent
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import RunContext

from aomi.agent.providers import build_model, preload
from aomi.agent.specs import ModelSpec
from aomi.errors import ModelConfigError
from tests.support.providers import FakeProvider, Reply, ToolCall

KEY = "sk-test-secret-4242"


@dataclass(frozen=True)
class Wire:
    provider: str
    wire: str
    model: str
    model_class: type[Model]

    def base_url(self, fake: FakeProvider) -> str:
        return {
            "openai": fake.openai_base_url,
            "anthropic": fake.anthropic_base_url,
            "gemini": fake.gemini_base_url,
        }[self.wire]


WIRES = [
    Wire("openai", "openai", "gpt-4o", OpenAIChatModel),
    Wire("anthropic", "anthropic", "claude-haiku-4-5", AnthropicModel),
    Wire("google", "gemini", "gemini-2.5-flash", GoogleModel),
]
wires = pytest.mark.parametrize("w", WIRES, ids=[w.provider for w in WIRES])


pytestmark = pytest.mark.usefixtures("allow_model_requests")


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(timeout=5.0) as client:
        yield client


def model_for(
    w: Wire, base_url: str, http: httpx2.AsyncClient, timeout: float = 5.0, key: str | None = KEY
) -> Model:
    spec = ModelSpec(label="test", provider=w.provider, model=w.model, base_url=base_url)
    return build_model(spec, api_key=key, http_client=http, timeout=timeout)


class Probe(WrapperModel):
    """Records whether the wrapped model's `request_stream` context was entered."""

    def __init__(self, wrapped: Model) -> None:
        super().__init__(wrapped)
        self.entered = 0

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        async with self.wrapped.request_stream(
            messages, model_settings, model_request_parameters, run_context
        ) as stream:
            self.entered += 1
            yield stream


@dataclass
class Run:
    """What one `run_stream_events` turn produced."""

    events: list[object] = field(default_factory=list)
    text_events: list[tuple[float, str]] = field(default_factory=list)
    """(arrival time, text) of each text part start and delta, in order."""
    result: AgentRunResultEvent[str] | None = None


async def stream_turn(agent: Agent[None, str], prompt: str, run: Run) -> None:
    async with agent.run_stream_events(prompt) as events:
        async for ev in events:
            run.events.append(ev)
            if isinstance(ev, PartStartEvent) and isinstance(ev.part, TextPart):
                run.text_events.append((time.monotonic(), ev.part.content))
            elif isinstance(ev, PartDeltaEvent) and isinstance(ev.delta, TextPartDelta):
                run.text_events.append((time.monotonic(), ev.delta.content_delta))
            elif isinstance(ev, AgentRunResultEvent):
                run.result = ev


def balance_agent(model: Model, calls: list[str]) -> Agent[None, str]:
    def get_balance(addr: str) -> str:
        """The ETH balance of an address.

        Args:
            addr: the address
        """
        calls.append(addr)
        return f"balance of {addr} is 42"

    return Agent(model, tools=[get_balance])


# -- the three wires, end to end ------------------------------------------------------------------


@wires
async def test_streams_text_calls_the_tool_and_reports_usage(
    w: Wire, fake: FakeProvider, http: httpx2.AsyncClient
) -> None:
    fake.script[:] = [
        Reply(
            text=["Let me ", "check ", "that."],
            tool_calls=[ToolCall("get_balance", {"addr": "0xabc"})],
            input_tokens=11,
            output_tokens=7,
        ),
        Reply(text=["The ", "balance ", "is ", "42."], input_tokens=20, output_tokens=3, chunk_delay=0.05),
    ]
    model = model_for(w, w.base_url(fake), http)
    assert isinstance(model, w.model_class)
    calls: list[str] = []
    run = Run()
    await stream_turn(balance_agent(model, calls), "What is my balance?", run)

    assert run.result is not None
    assert run.result.result.output == "The balance is 42."
    texts = [text for _, text in run.text_events]
    assert texts == ["Let me ", "check ", "that.", "The ", "balance ", "is ", "42."]
    # Streamed for real: the second answer's chunks arrived spread over its chunk delays.
    last = [at for at, _ in run.text_events[3:]]
    assert last[-1] - last[0] >= 0.1
    assert calls == ["0xabc"]
    assert any(isinstance(ev, FunctionToolCallEvent) for ev in run.events)
    assert any(isinstance(ev, FunctionToolResultEvent) for ev in run.events)

    # Two upstream requests (no retries), both streamed, both with the key.
    assert [r.wire for r in fake.requests] == [w.wire, w.wire]
    first, second = fake.requests
    assert first.stream and second.stream
    assert first.model == second.model == w.model
    assert first.auth() == second.auth() == KEY
    assert first.tool_calls() == [] and first.tool_results() == []
    assert second.tool_calls() == [("get_balance", {"addr": "0xabc"})]
    assert second.tool_results() == ["balance of 0xabc is 42"]

    usage = run.result.result.usage
    assert (usage.input_tokens, usage.output_tokens, usage.requests) == (31, 10, 2)
    responses = [m for m in run.result.result.all_messages() if isinstance(m, ModelResponse)]
    assert [(r.usage.input_tokens, r.usage.output_tokens) for r in responses] == [(11, 7), (20, 3)]


@wires
async def test_non_streamed_run_calls_the_tool(w: Wire, fake: FakeProvider, http: httpx2.AsyncClient) -> None:
    fake.script[:] = [
        Reply(tool_calls=[ToolCall("get_balance", {"addr": "0x1"})], input_tokens=4, output_tokens=2),
        Reply(text=["It is ", "42."], input_tokens=6, output_tokens=3),
    ]
    calls: list[str] = []
    result = await balance_agent(model_for(w, w.base_url(fake), http), calls).run("balance?")
    assert result.output == "It is 42."
    assert calls == ["0x1"]
    assert fake.requests[1].tool_calls() == [("get_balance", {"addr": "0x1"})]
    assert fake.requests[1].tool_results() == ["balance of 0x1 is 42"]
    # Anthropic streams even for `run()`; the others ask for a single JSON answer.
    assert [r.stream for r in fake.requests] == [w.wire == "anthropic"] * 2
    assert (result.usage.input_tokens, result.usage.output_tokens) == (10, 5)


ERRORS: list[tuple[int, type[ModelHTTPError] | type[Exception]]] = [
    (500, ModelServerError),
    (429, ModelRateLimitError),
    (401, ModelAuthenticationError),
    (400, ModelContextWindowExceededError),
]


@wires
@pytest.mark.parametrize(("status", "category"), ERRORS, ids=[str(s) for s, _ in ERRORS])
async def test_error_status_raises_a_model_http_error_on_opening_the_stream(
    w: Wire, status: int, category: type[Exception], fake: FakeProvider, http: httpx2.AsyncClient
) -> None:
    fake.script[:] = [Reply(status=status)]
    probe = Probe(model_for(w, w.base_url(fake), http))
    run = Run()
    with pytest.raises(ModelHTTPError) as info:
        await stream_turn(Agent(probe), "hi", run)
    err = info.value
    assert isinstance(err, category)
    assert err.status_code == status
    assert err.model_name == w.model
    assert isinstance(err.body, dict) and err.body
    if status == 429:
        assert err.retry_after == 0.0  # from Retry-After: 0
    assert probe.entered == 0 and run.events == []  # raised while opening the stream
    assert len(fake.requests) == 1  # the SDK did not retry


@wires
async def test_read_timeout_raises_model_timeout_error(
    w: Wire, fake: FakeProvider, http: httpx2.AsyncClient
) -> None:
    fake.script[:] = [Reply(text=["late"], first_byte_delay=1.5)]
    probe = Probe(model_for(w, w.base_url(fake), http, timeout=0.2))
    started = time.monotonic()
    with pytest.raises(ModelTimeoutError) as info:
        await stream_turn(Agent(probe), "hi", Run())
    assert time.monotonic() - started < 1.0
    assert isinstance(info.value, ModelConnectionError)
    assert info.value.phase == "read"
    assert probe.entered == 0
    assert len(fake.requests) == 1
    assert await asyncio.to_thread(fake.wait_disconnect, 1.0)


@wires
async def test_connection_refused_raises_model_connection_error(w: Wire, http: httpx2.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}" + ("/v1" if w.wire == "openai" else "")
    probe = Probe(model_for(w, base_url, http))
    with pytest.raises(ModelConnectionError) as info:
        await stream_turn(Agent(probe), "hi", Run())
    assert not isinstance(info.value, ModelTimeoutError)
    assert info.value.phase == "connect"
    assert probe.entered == 0


@wires
async def test_cancelling_the_turn_closes_the_upstream_stream(
    w: Wire, fake: FakeProvider, http: httpx2.AsyncClient
) -> None:
    fake.script[:] = [Reply(text=["Hello", " world"], hang_after=1)]
    agent = Agent(model_for(w, w.base_url(fake), http))
    run = Run()
    # No garbage collection during the test: an abandoned stream closed only by the collector
    # (as google-genai's would be without `build_model`'s fix) must not pass.
    gc.disable()
    try:
        task = asyncio.create_task(stream_turn(agent, "hi", run))
        for _ in range(200):  # until the first chunk is through
            if run.text_events or task.done():
                break
            await asyncio.sleep(0.01)
        assert [text for _, text in run.text_events] == ["Hello"]
        assert fake.disconnects == 0
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.to_thread(fake.wait_disconnect, 2.0)
    finally:
        gc.enable()
    assert fake.disconnects == 1
    assert len(fake.requests) == 1


async def test_google_models_share_one_response_hook(http: httpx2.AsyncClient) -> None:
    for label in ("a", "b"):
        build_model(
            ModelSpec(label, "google", "gemini-2.5-flash"), api_key=KEY, http_client=http, timeout=5.0
        )
    assert len(http.event_hooks["response"]) == 1
    assert http.event_hooks["request"] == []


# -- building ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "model", "model_class", "base_url", "expected_url"),
    [
        ("groq", "llama-3.3-70b-versatile", GroqModel, None, "https://api.groq.com"),
        ("groq", "llama-3.3-70b-versatile", GroqModel, "http://127.0.0.1:9/groq", "http://127.0.0.1:9/groq/"),
        ("mistral", "mistral-large-latest", MistralModel, None, "https://api.mistral.ai"),
        ("mistral", "mistral-large-latest", MistralModel, "http://127.0.0.1:9/m", "http://127.0.0.1:9/m"),
        ("openrouter", "openai/gpt-4o", OpenRouterModel, None, "https://openrouter.ai/api/v1/"),
        ("openrouter", "openai/gpt-4o", OpenRouterModel, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1/"),
        ("openai-compatible", "qwen3", OpenAIChatModel, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1/"),
        ("openai", "gpt-4o", OpenAIChatModel, None, "https://api.openai.com/v1/"),
        ("anthropic", "claude-haiku-4-5", AnthropicModel, None, "https://api.anthropic.com"),
        ("google", "gemini-2.5-flash", GoogleModel, None, "https://generativelanguage.googleapis.com/"),
    ],
)
async def test_builds_each_provider_without_calling_it(
    provider: str,
    model: str,
    model_class: type[Model],
    base_url: str | None,
    expected_url: str,
    http: httpx2.AsyncClient,
) -> None:
    spec = ModelSpec(label="m", provider=provider, model=model, base_url=base_url)
    built = build_model(spec, api_key=KEY, http_client=http, timeout=7.0)
    assert isinstance(built, model_class)
    assert isinstance(built, OpenRouterModel) == (provider == "openrouter")
    assert built.model_name == model
    assert built.base_url == expected_url
    assert built.system == provider
    assert KEY not in repr(built) and KEY not in str(built)
    client: Any = getattr(built, "client", None)
    if provider in ("openai", "openai-compatible", "openrouter", "anthropic", "groq"):
        assert client.max_retries == 0
        assert client.timeout == 7.0


async def test_openai_compatible_without_key_and_without_strict_schemas(
    fake: FakeProvider, http: httpx2.AsyncClient
) -> None:
    spec = ModelSpec(
        label="local", provider="openai-compatible", model="qwen3", base_url=fake.openai_base_url
    )
    model = build_model(spec, api_key=None, http_client=http, timeout=5.0)
    fake.script[:] = [Reply(tool_calls=[ToolCall("get_balance", {"addr": "0x2"})]), Reply(text=["ok"])]
    calls: list[str] = []
    run = Run()
    await stream_turn(balance_agent(model, calls), "hi", run)
    assert calls == ["0x2"]
    tools = fake.requests[0].body["tools"]
    assert [t["function"]["name"] for t in tools] == ["get_balance"]
    assert all("strict" not in t["function"] for t in tools)
    assert fake.requests[0].auth() == "no-key"
    # OpenAI itself gets strict schemas.
    openai = build_model(
        ModelSpec("o", "openai", "gpt-4o", fake.openai_base_url), api_key=KEY, http_client=http, timeout=5.0
    )
    await stream_turn(balance_agent(openai, calls), "hi", Run())
    assert fake.requests[-1].body["tools"][0]["function"]["strict"] is True


async def test_missing_key_and_bad_model_names_are_config_errors(http: httpx2.AsyncClient) -> None:
    with pytest.raises(ModelConfigError, match="no API key for provider anthropic"):
        build_model(
            ModelSpec("c", "anthropic", "claude-haiku-4-5"), api_key=None, http_client=http, timeout=5
        )
    with pytest.raises(ModelConfigError, match="OpenRouter model names must be prefixed"):
        build_model(ModelSpec("r", "openrouter", "gpt-4o"), api_key=KEY, http_client=http, timeout=5)
    with pytest.raises(ModelConfigError, match="unknown provider"):
        build_model(ModelSpec("x", "nope", "m"), api_key=KEY, http_client=http, timeout=5)


def test_importing_the_module_imports_no_provider_sdk() -> None:
    code = (
        "import sys, aomi.agent.providers\n"
        "heavy = ['openai', 'anthropic', 'google.genai', 'groq', 'mistralai', 'pydantic_ai.models.openai']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30)
    assert out.stdout.strip() == "[]"


PRELOADED = [
    ModelSpec("a", "openai", "gpt-4o"),
    ModelSpec("b", "openai-compatible", "qwen3", "http://127.0.0.1:9/v1"),
    ModelSpec("c", "openrouter", "anthropic/claude-sonnet-4.5"),
    ModelSpec("d", "anthropic", "claude-haiku-4-5"),
    ModelSpec("e", "google", "gemini-2.5-flash"),
    ModelSpec("f", "groq", "llama-3.3-70b-versatile"),
    ModelSpec("g", "mistral", "mistral-large-latest"),
]


@pytest.mark.parametrize("spec", PRELOADED, ids=[s.provider for s in PRELOADED])
def test_after_preload_building_the_model_imports_nothing(spec: ModelSpec) -> None:
    # A fresh interpreter: only there does the first build import anything.
    code = (
        "import sys, httpx2\n"
        "from aomi.agent.providers import build_model, preload\n"
        "from aomi.agent.specs import ModelSpec\n"
        f"spec = ModelSpec({spec.label!r}, {spec.provider!r}, {spec.model!r}, {spec.base_url!r})\n"
        "client = httpx2.AsyncClient()\n"
        "preload([spec], client)\n"
        "before = set(sys.modules)\n"
        "build_model(spec, api_key='k', http_client=client, timeout=5.0)\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


async def test_preload_skips_a_spec_that_cannot_be_built(http: httpx2.AsyncClient) -> None:
    bad = ModelSpec("r", "openrouter", "gpt-4o")  # OpenRouter names need their `vendor/` prefix
    with pytest.raises(ModelConfigError):
        build_model(bad, api_key=KEY, http_client=http, timeout=5)
    preload([bad, ModelSpec("a", "anthropic", "claude-haiku-4-5")], http)  # raises nothing


async def test_chat_requests_skip_the_sdk_transform_and_send_the_same_body(
    fake: FakeProvider, http: httpx2.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openai.resources.chat.completions.completions as sdk
    from openai import AsyncOpenAI
    from pydantic_ai.providers.openai import OpenAIProvider

    transformed: list[int] = []  # the number of messages each transformed body held
    original = getattr(sdk, "async_maybe_transform")  # noqa: B009 (not re-exported, for mypy)

    async def spy(data: Any, expected_type: Any) -> Any:
        transformed.append(len(data["messages"]))
        return await original(data, expected_type)

    monkeypatch.setattr(sdk, "async_maybe_transform", spy)

    fake.script[:] = [
        Reply(text=["Checking."], tool_calls=[ToolCall("get_balance", {"addr": "0xabc"})]),
        Reply(text=["It is 42."]),
    ] * 4  # two runs of two requests, for each model
    ours = model_for(WIRES[0], fake.openai_base_url, http)
    stock = OpenAIChatModel(
        "gpt-4o",
        provider=OpenAIProvider(
            openai_client=AsyncOpenAI(
                api_key=KEY, base_url=fake.openai_base_url, http_client=http, max_retries=0
            )
        ),
    )
    for model in (ours, stock):
        agent = balance_agent(model, [])
        first = await agent.run("What is my balance?")
        await agent.run("And now?", message_history=first.all_messages())
    mine, theirs = fake.requests[:4], fake.requests[4:]
    assert len(mine) == len(theirs) == 4
    assert [r.body for r in mine] == [r.body for r in theirs]
    assert mine[-1].body["tools"] and len(mine[-1].body["messages"]) == 7
    assert transformed == [0, 0, 0, 0, 1, 3, 5, 7]  # ours first: their messages never transformed
    assert {(r.auth(), r.path) for r in mine} == {(KEY, "/v1/chat/completions")}
