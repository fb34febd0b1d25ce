"""Models by label: the registry maps each label to a fixed model (`offline`, test models) or to a
`ModelSpec` from `AOMI_MODELS`, and builds the pydantic-ai model for a turn, with the server's
key or the client's own (BYOK). Built models are kept in a small cache keyed by label and key.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelConnectionError,
    ModelHTTPError,
    ModelRateLimitError,
    ModelServerError,
    ModelUnavailableError,
)
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import RunContext

from aomi.agent.labels import OFFLINE_LABEL
from aomi.agent.offline import build_offline_model
from aomi.agent.specs import PROVIDERS, ModelSpec, configured_specs
from aomi.errors import UnknownModel

if TYPE_CHECKING:
    import httpx2

    from aomi.settings import Settings

log = logging.getLogger("aomi.models")

BUILTIN_PROVIDER = "builtin"
BUILT_CACHE_SIZE = 256
RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 8.0


def retryable(exc: BaseException) -> bool:
    """Failures worth sending the same request again for: rate limits, overload, server errors,
    connection failures and timeouts. A rejected request (bad key, context too long) is not."""
    if isinstance(exc, ModelRateLimitError | ModelUnavailableError | ModelServerError | ModelConnectionError):
        return True
    return isinstance(exc, ModelHTTPError) and (exc.status_code in (408, 409, 429) or exc.status_code >= 500)


class RetryingModel(WrapperModel):
    """Retries a model request that failed before anything came back, with exponential backoff
    (honouring the provider's Retry-After up to a cap). Once a stream has begun nothing is retried:
    its tokens are already in the session."""

    def __init__(self, wrapped: Model, retries: int, sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        super().__init__(wrapped)
        self.retries = retries
        self._sleep = sleep

    def _delay(self, attempt: int, exc: BaseException) -> float:
        hinted: float | None = exc.retry_after if isinstance(exc, ModelAPIError) else None
        base: float = RETRY_BASE_SECONDS * 2.0**attempt
        return min(RETRY_MAX_SECONDS, max(base, hinted or 0.0))

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        attempt = 0
        while True:
            try:
                return await self.wrapped.request(messages, model_settings, model_request_parameters)
            except Exception as exc:
                if attempt >= self.retries or not retryable(exc):
                    raise
                await self._backoff(attempt, exc)
                attempt += 1

    async def _backoff(self, attempt: int, exc: BaseException) -> None:
        delay = self._delay(attempt, exc)
        log.warning(
            "model %s: %s; retry %d of %d in %.1f s",
            self.model_name,
            type(exc).__name__,
            attempt + 1,
            self.retries,
            delay,
        )
        await self._sleep(delay)

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        attempt = 0
        while True:
            cm = self.wrapped.request_stream(messages, model_settings, model_request_parameters, run_context)
            try:
                stream = await cm.__aenter__()
            except Exception as exc:
                if attempt >= self.retries or not retryable(exc):
                    raise
                await self._backoff(attempt, exc)
                attempt += 1
                continue
            break
        try:
            yield stream
        except BaseException as exc:
            if not await cm.__aexit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            await cm.__aexit__(None, None, None)


@dataclass(frozen=True)
class ModelEntry:
    """What `aomi models list` and the control routes show of one label."""

    label: str
    provider: str
    target: str
    server_key: bool
    """True when the server can run it without a client's key."""


class ModelRegistry:
    """Label -> a fixed model or a spec built per turn."""

    def __init__(self, *, timeout: float = 60.0, retries: int = 2) -> None:
        self._fixed: dict[str, Model] = {}
        self._specs: dict[str, ModelSpec] = {}
        self.timeout = timeout
        self.retries = retries
        self._built: OrderedDict[tuple[str, str], Model] = OrderedDict()
        self._http: httpx2.AsyncClient | None = None
        self._preloaded: asyncio.Future[None] | None = None

    def preload(self) -> asyncio.Future[None]:
        """Import what the configured models need in a thread, once (started at start-up); a turn
        awaits it before its model is built, so no import runs on the event loop."""
        if self._preloaded is None:
            from aomi.agent.providers import preload

            specs = list(self._specs.values())
            self._preloaded = asyncio.ensure_future(asyncio.to_thread(preload, specs, self._client()))
        return self._preloaded

    def _client(self) -> httpx2.AsyncClient:
        """The HTTP client every provider model shares."""
        if self._http is None:
            import httpx2

            self._http = httpx2.AsyncClient(timeout=self.timeout)
        return self._http

    def register(self, label: str, model: Model) -> None:
        """A fixed model under ``label`` (the offline model; tests' scripted models)."""
        if not label:
            raise ValueError("a model label must not be empty")
        self._fixed[label] = model

    def add_spec(self, spec: ModelSpec) -> None:
        if spec.label in self._fixed or spec.label in self._specs:
            raise ValueError(f"the model label {spec.label!r} is defined twice")
        self._specs[spec.label] = spec

    def labels(self) -> list[str]:
        """Every label, in registration order (`offline` first)."""
        return [*self._fixed, *self._specs]

    def __contains__(self, label: object) -> bool:
        return label in self._fixed or label in self._specs

    def spec(self, label: str) -> ModelSpec | None:
        """The spec of a provider-backed label; None for a fixed model."""
        self._check(label)
        return self._specs.get(label)

    def provider_of(self, label: str) -> str:
        spec = self.spec(label)
        return spec.provider if spec is not None else BUILTIN_PROVIDER

    def _check(self, label: str) -> None:
        if label not in self:
            known = ", ".join(self.labels()) or "none"
            raise UnknownModel(f"unknown model {label!r} (known: {known})")

    def entries(self) -> list[ModelEntry]:
        fixed = [ModelEntry(label, BUILTIN_PROVIDER, label, True) for label in self._fixed]
        specs = [
            ModelEntry(s.label, s.provider, s.describe(), s.has_server_key) for s in self._specs.values()
        ]
        return fixed + specs

    def provider_labels(self) -> list[str]:
        """Labels of the provider models (`AOMI_MODELS`), in configuration order."""
        return list(self._specs)

    def keyless(self) -> list[str]:
        """Labels the server holds no key for: offered only to clients with their own key."""
        return [s.label for s in self._specs.values() if not s.has_server_key]

    def available(self, label: str, byok: Collection[str] = ()) -> bool:
        """Usable by a client holding BYOK keys for the providers ``byok``."""
        if label not in self:
            return False
        spec = self._specs.get(label)
        return spec is None or spec.has_server_key or spec.provider in byok

    def get(self, label: str, api_key: str | None = None) -> Model:
        """The model for a turn: a fixed one, or the spec's built with ``api_key`` (a client's own
        key) or else the server's. `UnknownModel` for an unknown label."""
        spec = self.spec(label)
        if spec is None:
            return self._fixed[label]
        key = api_key if api_key is not None else spec.api_key
        cache_key = (label, hashlib.sha256((key or "").encode()).hexdigest())
        model = self._built.get(cache_key)
        if model is None:
            from aomi.agent.providers import build_model

            built = build_model(spec, api_key=key, http_client=self._client(), timeout=self.timeout)
            model = RetryingModel(built, self.retries)
            self._built[cache_key] = model
            if len(self._built) > BUILT_CACHE_SIZE:
                self._built.popitem(last=False)
        else:
            self._built.move_to_end(cache_key)
        return model

    async def aclose(self) -> None:
        self._built.clear()
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def default_model_registry(settings: Settings | None = None) -> ModelRegistry:
    """`offline`, plus every model `AOMI_MODELS` / `AOMI_MODELS_FILE` configure (when settings are
    given). A malformed entry raises `ModelConfigError` naming it."""
    if settings is None:
        registry = ModelRegistry()
    else:
        registry = ModelRegistry(timeout=settings.provider_timeout_seconds, retries=settings.provider_retries)
    registry.register(OFFLINE_LABEL, build_offline_model())
    if settings is not None:
        for spec in configured_specs(settings.models, settings.models_file):
            registry.add_spec(spec)
    return registry


def report_missing_keys(registry: ModelRegistry) -> list[str]:
    """One line per model the server has no key for (start-up): offered only to BYOK clients."""
    lines = []
    for entry in registry.entries():
        if not entry.server_key:
            spec = registry.spec(entry.label)
            assert spec is not None
            var = PROVIDERS[spec.provider].key_env
            lines.append(
                f"model {entry.label} ({entry.target}): no server key ({var} is unset); "
                f"offered only to clients that saved their own {spec.provider} key"
            )
    return lines
