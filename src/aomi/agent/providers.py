"""Build the pydantic-ai model of a `ModelSpec`: one function per provider, each importing its SDK
only when called (importing them all costs seconds of start-up).

Every SDK client is built here, not by pydantic-ai, so that its own retries are off (the registry's
`RetryingModel` does bounded retries around the whole request), its request timeout is ours, and it
never reads an API key or base URL from the environment: the spec and the caller decide both.
All but groq's (legacy httpx) send through the caller's shared `httpx2.AsyncClient`; building a
Google model adds one response hook to that client (see `_track_google_streams`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from functools import cache
from typing import TYPE_CHECKING, Any

from aomi.agent.specs import ModelSpec
from aomi.errors import ModelConfigError

if TYPE_CHECKING:
    import httpx2
    from openai import AsyncOpenAI
    from pydantic_ai.messages import ModelMessage
    from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
    from pydantic_ai.models.google import GoogleModel
    from pydantic_ai.settings import ModelSettings
    from pydantic_ai.tools import RunContext

OPENAI_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_BASE_URL = "https://api.anthropic.com"
GROQ_BASE_URL = "https://api.groq.com"
MISTRAL_BASE_URL = "https://api.mistral.ai"
GEMINI_BASE_URL = "https://generativelanguage.googleapis.com/"
OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
OPENAI_COMPATIBLE_NAME = "openai-compatible"
NO_KEY = "no-key"
"""Sent to an openai-compatible server when there is no key (the SDK requires a non-empty one)."""

Builder = Callable[[ModelSpec, str, "httpx2.AsyncClient", float], "Model"]

PRELOAD_KEY = "preload-no-requests"


def preload(specs: Iterable[ModelSpec], http_client: httpx2.AsyncClient) -> None:
    """Build each spec's model once and drop it (nothing is sent): the first build imports its SDK
    and what that imports lazily, 0.6 s (openai) to 1.7 s (anthropic). The registry runs this in
    a thread at start-up, since an import on the event loop would stall every request."""
    for spec in specs:
        # Best effort: a spec that cannot be built fails its own turns, with its own message.
        with contextlib.suppress(Exception):
            build_model(spec, api_key=spec.api_key or PRELOAD_KEY, http_client=http_client, timeout=1.0)


def build_model(
    spec: ModelSpec, *, api_key: str | None, http_client: httpx2.AsyncClient, timeout: float
) -> Model:
    """The pydantic-ai model for ``spec``, sending ``api_key`` (the server's or a client's own key;
    None only for a keyless openai-compatible server) to ``spec.base_url`` (None: the provider's
    own endpoint) through ``http_client``, with no SDK retries and a ``timeout`` in seconds per
    request. `ModelConfigError` for an unknown provider, a missing key or a model pydantic-ai
    refuses (an OpenRouter model name without its `vendor/` prefix)."""
    builder = _BUILDERS.get(spec.provider)
    if builder is None:
        raise ModelConfigError(f"model {spec.label}: unknown provider {spec.provider!r}")
    if api_key is None and spec.needs_key:
        raise ModelConfigError(f"model {spec.label}: no API key for provider {spec.provider}")
    from pydantic_ai.exceptions import UserError

    try:
        return builder(spec, api_key or NO_KEY, http_client, timeout)
    except UserError as exc:  # e.g. an OpenRouter model name without its `vendor/` prefix
        raise ModelConfigError(f"model {spec.label} ({spec.describe()}): {exc.message}") from None


def _openai_client(
    base_url: str, api_key: str, http_client: httpx2.AsyncClient, timeout: float
) -> AsyncOpenAI:
    """The OpenAI SDK client of the OpenAI, OpenRouter and openai-compatible models, whose chat
    requests send `messages` and `tools` without the SDK's body transform (`_untransformed`)."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(
        api_key=api_key, base_url=base_url, http_client=http_client, max_retries=0, timeout=timeout
    )
    completions = client.chat.completions
    completions.create = _untransformed(completions.create)  # type: ignore[method-assign,assignment]
    return client


def _untransformed(create: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``chat.completions.create`` with the request's `messages` and `tools` passed as `extra_body`.

    The SDK walks every request body against its TypedDicts to apply field aliases and formats;
    the chat message and tool params have none, so for them the walk changes nothing, but it costs
    about 0.1 ms per history message on every request (5 ms at 40 messages), on the event loop.
    `extra_body` is merged into the body as is, at the same keys: the JSON sent is the same.
    """
    from openai import NOT_GIVEN, Omit, omit

    async def create_untransformed(
        *, messages: Any, tools: Any = omit, extra_body: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        body: dict[str, Any] = {"messages": messages}
        if not isinstance(tools, Omit) and tools is not NOT_GIVEN:
            body["tools"] = tools
        body.update(extra_body or {})
        return await create(messages=[], tools=[] if "tools" in body else omit, extra_body=body, **kwargs)

    return create_untransformed


def _openai(spec: ModelSpec, api_key: str, http_client: httpx2.AsyncClient, timeout: float) -> Model:
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    client = _openai_client(spec.base_url or OPENAI_BASE_URL, api_key, http_client, timeout)
    return OpenAIChatModel(spec.model, provider=OpenAIProvider(openai_client=client))


def _openai_compatible(
    spec: ModelSpec, api_key: str, http_client: httpx2.AsyncClient, timeout: float
) -> Model:
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.profiles.openai import OpenAIModelProfile
    from pydantic_ai.providers.openai_compatible import OpenAICompatibleProvider

    if spec.base_url is None:
        raise ModelConfigError(f"model {spec.label}: openai-compatible needs a base URL")
    client = _openai_client(spec.base_url, api_key, http_client, timeout)
    provider = OpenAICompatibleProvider(
        OPENAI_COMPATIBLE_NAME,
        openai_client=client,
        # Local servers (llama.cpp, some vLLM/LiteLLM setups) reject `strict` tool schemas.
        profile=OpenAIModelProfile(openai_supports_strict_tool_definition=False),
    )
    return OpenAIChatModel(spec.model, provider=provider)


def _openrouter(spec: ModelSpec, api_key: str, http_client: httpx2.AsyncClient, timeout: float) -> Model:
    from pydantic_ai.models.openrouter import OpenRouterModel
    from pydantic_ai.providers.openrouter import OpenRouterProvider

    class _Provider(OpenRouterProvider):
        # The stock provider reports openrouter.ai whatever its client's base URL is.
        @property
        def base_url(self) -> str:
            return str(self.client.base_url)

    client = _openai_client(spec.base_url or OPENROUTER_BASE_URL, api_key, http_client, timeout)
    return OpenRouterModel(spec.model, provider=_Provider(openai_client=client))


def _anthropic(spec: ModelSpec, api_key: str, http_client: httpx2.AsyncClient, timeout: float) -> Model:
    from anthropic import AsyncAnthropic
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    client = AsyncAnthropic(
        api_key=api_key,
        base_url=spec.base_url or ANTHROPIC_BASE_URL,
        http_client=http_client,
        max_retries=0,
        timeout=timeout,
    )
    return AnthropicModel(spec.model, provider=AnthropicProvider(anthropic_client=client))


def _google(spec: ModelSpec, api_key: str, http_client: httpx2.AsyncClient, timeout: float) -> Model:
    from google.genai import Client
    from google.genai.types import HttpOptions
    from pydantic_ai.models import get_user_agent
    from pydantic_ai.providers.google import GoogleProvider

    options = HttpOptions(
        base_url=spec.base_url or GEMINI_BASE_URL,
        headers={"user-agent": get_user_agent()},
        httpx_async_client=http_client,
        timeout=max(1, round(timeout * 1000)),  # milliseconds
        retry_options=None,  # google-genai: no retry options = a single attempt
    )
    _track_google_streams(http_client)
    client = Client(vertexai=False, api_key=api_key, http_options=options)
    return _google_model_class()(spec.model, provider=GoogleProvider(client=client))


# google-genai (2.34) nests its stream generators without closing the inner ones, so closing or
# cancelling a pydantic-ai Gemini stream leaves the HTTP response open until garbage collection:
# an interrupted turn would keep the upstream request running. The Google model below records the
# responses its streamed request opens (a response hook on the HTTP client, active only while a
# Gemini stream is being opened) and closes them when the stream's context exits.
_opening_google_stream: ContextVar[list[httpx2.Response] | None] = ContextVar(
    "aomi_opening_google_stream", default=None
)


async def _record_google_response(response: httpx2.Response) -> None:
    opened = _opening_google_stream.get()
    if opened is not None:
        opened.append(response)


def _track_google_streams(http_client: httpx2.AsyncClient) -> None:
    hooks = http_client.event_hooks
    if _record_google_response not in hooks["response"]:
        http_client.event_hooks = {**hooks, "response": [*hooks["response"], _record_google_response]}


@cache
def _google_model_class() -> type[GoogleModel]:
    from pydantic_ai.models.google import GoogleModel

    class ClosingGoogleModel(GoogleModel):
        """`GoogleModel` whose streamed requests close their HTTP response on exit."""

        @asynccontextmanager
        async def request_stream(
            self,
            messages: list[ModelMessage],
            model_settings: ModelSettings | None,
            model_request_parameters: ModelRequestParameters,
            run_context: RunContext[Any] | None = None,
        ) -> AsyncGenerator[StreamedResponse]:
            opened: list[httpx2.Response] = []
            async with AsyncExitStack() as stack:

                @stack.push_async_callback
                async def close_opened() -> None:  # runs last, after google-genai's own teardown
                    for response in opened:
                        await response.aclose()

                token = _opening_google_stream.set(opened)
                try:
                    stream = await stack.enter_async_context(
                        super().request_stream(
                            messages, model_settings, model_request_parameters, run_context
                        )
                    )
                finally:
                    _opening_google_stream.reset(token)
                yield stream

    return ClosingGoogleModel


def _groq(spec: ModelSpec, api_key: str, http_client: httpx2.AsyncClient, timeout: float) -> Model:
    from groq import AsyncGroq
    from pydantic_ai.models.groq import GroqModel
    from pydantic_ai.providers.groq import GroqProvider

    # The groq SDK still runs on legacy httpx, so it cannot share the httpx2 client: it keeps its own.
    client = AsyncGroq(
        api_key=api_key, base_url=spec.base_url or GROQ_BASE_URL, max_retries=0, timeout=timeout
    )
    return GroqModel(spec.model, provider=GroqProvider(groq_client=client))


def _mistral(spec: ModelSpec, api_key: str, http_client: httpx2.AsyncClient, timeout: float) -> Model:
    from mistralai.client import Mistral
    from pydantic_ai.models.mistral import MistralModel
    from pydantic_ai.providers.mistral import MistralProvider

    client = Mistral(
        api_key=api_key,
        server_url=spec.base_url or MISTRAL_BASE_URL,
        async_client=http_client,
        retry_config=None,  # no retries (the SDK's default too, unless a config is given)
        timeout_ms=max(1, round(timeout * 1000)),
    )
    return MistralModel(spec.model, provider=MistralProvider(mistral_client=client))


_BUILDERS: dict[str, Builder] = {
    "openai": _openai,
    "openai-compatible": _openai_compatible,
    "openrouter": _openrouter,
    "anthropic": _anthropic,
    "google": _google,
    "groq": _groq,
    "mistral": _mistral,
}
