"""Model specs: what `AOMI_MODELS` and `AOMI_MODELS_FILE` configure, parsed and checked.

Light on purpose (no provider SDK is imported here): the CLI, the App loader and the BYOK routes
use it; the models themselves are built per turn by `aomi.agent.models`.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aomi.agent.labels import OFFLINE_LABEL
from aomi.errors import ModelConfigError


@dataclass(frozen=True)
class Provider:
    name: str
    key_env: str | None
    """The environment variable holding the server's key (None: no key needed)."""
    base_url_env: str | None = None
    """The environment variable overriding the provider's base URL."""
    needs_key: bool = True


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider("anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
        Provider("openai", "OPENAI_API_KEY", "OPENAI_BASE_URL"),
        Provider("google", "GEMINI_API_KEY", "GEMINI_BASE_URL"),
        Provider("groq", "GROQ_API_KEY", "GROQ_BASE_URL"),
        Provider("mistral", "MISTRAL_API_KEY", "MISTRAL_BASE_URL"),
        Provider("openrouter", "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL"),
        # A local server (Ollama, vLLM, llama.cpp, LiteLLM) usually needs no key.
        Provider("openai-compatible", None, needs_key=False),
    )
}
PROVIDER_NAMES: tuple[str, ...] = tuple(PROVIDERS)

LABEL_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
ENTRY_FORM = "label=provider:model (or label=openai-compatible:model@http://host:port/v1)"


@dataclass(frozen=True)
class ModelSpec:
    """One configured model: its label and how to reach it. Keys are never part of a spec's repr."""

    label: str
    provider: str
    model: str
    base_url: str | None = None
    api_key: str | None = None
    """The server's key for this model (per label from the models file, else the provider's
    environment variable); None when there is none."""

    def __repr__(self) -> str:
        return f"ModelSpec({self.label}={self.describe()})"

    @property
    def needs_key(self) -> bool:
        return PROVIDERS[self.provider].needs_key

    @property
    def has_server_key(self) -> bool:
        return self.api_key is not None or not self.needs_key

    def describe(self) -> str:
        at = f"@{self.base_url}" if self.base_url else ""
        return f"{self.provider}:{self.model}{at}"


def _check_url(url: str, where: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ModelConfigError(f"{where}: base URL {url!r} must be an http:// or https:// URL")
    return url.rstrip("/")


def _check_label(label: str, where: str) -> str:
    if label == OFFLINE_LABEL:
        raise ModelConfigError(f"{where}: the label {OFFLINE_LABEL!r} is built in; pick another label")
    if not re.fullmatch(LABEL_PATTERN, label):
        raise ModelConfigError(
            f"{where}: invalid label {label!r} (letters, digits, '.', '_', '-'; up to 64; "
            f"first a letter or digit)"
        )
    return label


def _check_provider(provider: str, where: str) -> str:
    if provider not in PROVIDERS:
        raise ModelConfigError(f"{where}: unknown provider {provider!r} (known: {', '.join(PROVIDER_NAMES)})")
    return provider


def _env_key(provider: str, env: Mapping[str, str]) -> str | None:
    var = PROVIDERS[provider].key_env
    value = env.get(var) if var else None
    return value or None


def _env_base_url(provider: str, env: Mapping[str, str]) -> str | None:
    var = PROVIDERS[provider].base_url_env
    value = env.get(var) if var else None
    return _check_url(value, var) if value and var else None


def parse_entry(entry: str, env: Mapping[str, str]) -> ModelSpec:
    """``label=provider:model[@base-url]`` -> a spec with the key and base URL from ``env``."""
    where = f"AOMI_MODELS entry {entry!r}"
    label, eq, target = entry.partition("=")
    if not eq:
        raise ModelConfigError(f"{where}: missing '='; write {ENTRY_FORM}")
    label, target = label.strip(), target.strip()
    if not label:
        raise ModelConfigError(f"{where}: missing label before '='; write {ENTRY_FORM}")
    _check_label(label, where)
    provider, colon, model = target.partition(":")
    if not colon or not provider:
        raise ModelConfigError(f"{where}: missing 'provider:' before the model; write {ENTRY_FORM}")
    _check_provider(provider, where)
    base_url: str | None = None
    if provider == "openai-compatible":
        model, at, url = model.partition("@")
        if not at or not url:
            raise ModelConfigError(
                f"{where}: openai-compatible needs a base URL: {label}=openai-compatible:{model or 'MODEL'}"
                "@http://127.0.0.1:11434/v1"
            )
        base_url = _check_url(url, where)
    if not model:
        raise ModelConfigError(f"{where}: missing model name after '{provider}:'; write {ENTRY_FORM}")
    if any(c.isspace() for c in model):
        raise ModelConfigError(f"{where}: the model name {model!r} contains whitespace")
    return ModelSpec(
        label=label,
        provider=provider,
        model=model,
        base_url=base_url or _env_base_url(provider, env),
        api_key=_env_key(provider, env),
    )


def parse_models(value: str, env: Mapping[str, str]) -> list[ModelSpec]:
    """The comma-separated `AOMI_MODELS` value; empty entries (a trailing comma) are ignored."""
    specs = [parse_entry(entry.strip(), env) for entry in value.split(",") if entry.strip()]
    _no_duplicates(specs, "AOMI_MODELS")
    return specs


def _no_duplicates(specs: list[ModelSpec], where: str) -> None:
    seen: set[str] = set()
    for spec in specs:
        if spec.label in seen:
            raise ModelConfigError(f"{where}: the label {spec.label!r} is defined twice; keep one")
        seen.add(spec.label)


FILE_KEYS = ("provider", "model", "base_url", "api_key", "api_key_env")


def read_models_file(path: Path, env: Mapping[str, str]) -> list[ModelSpec]:
    """`AOMI_MODELS_FILE`: one TOML table per label::

    [models.sonnet]
    provider = "anthropic"
    model = "claude-sonnet-4-5"
    api_key_env = "TEAM_ANTHROPIC_KEY"   # or api_key = "...", or the provider's variable
    base_url = "https://gateway.example/anthropic"   # optional
    """
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ModelConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ModelConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ModelConfigError(f"{path}: invalid TOML: not UTF-8 text") from None
    extra = sorted(set(data) - {"models"})
    if extra:
        raise ModelConfigError(f"{path}: {extra[0]}: unknown table (put each model under [models.<label>])")
    table = data.get("models", {})
    if not isinstance(table, dict):
        raise ModelConfigError(f"{path}: models: must be a table of [models.<label>] tables")
    specs = [_file_spec(path, label, body, env) for label, body in table.items()]
    _no_duplicates(specs, str(path))
    return specs


def _file_spec(path: Path, label: str, body: object, env: Mapping[str, str]) -> ModelSpec:
    where = f"{path}: models.{label}"
    _check_label(label, where)
    if not isinstance(body, dict):
        raise ModelConfigError(f"{where}: must be a table with provider and model")
    for key, value in body.items():
        if key not in FILE_KEYS:
            raise ModelConfigError(f"{where}.{key}: unknown key (allowed: {', '.join(FILE_KEYS)})")
        if not isinstance(value, str) or not value:
            raise ModelConfigError(f"{where}.{key}: must be a non-empty string")
    for key in ("provider", "model"):
        if key not in body:
            raise ModelConfigError(f"{where}.{key}: required")
    provider = _check_provider(body["provider"], f"{where}.provider")
    base_url = body.get("base_url")
    if base_url is not None:
        base_url = _check_url(base_url, f"{where}.base_url")
    elif provider == "openai-compatible":
        raise ModelConfigError(
            f"{where}.base_url: required for openai-compatible (e.g. http://127.0.0.1:11434/v1)"
        )
    if "api_key" in body and "api_key_env" in body:
        raise ModelConfigError(f"{where}: give api_key or api_key_env, not both")
    if "api_key_env" in body:
        api_key = env.get(body["api_key_env"]) or None
    else:
        api_key = body.get("api_key") or _env_key(provider, env)
    return ModelSpec(
        label=label,
        provider=provider,
        model=body["model"],
        base_url=base_url or _env_base_url(provider, env),
        api_key=api_key,
    )


def configured_specs(
    models: str, models_file: Path | None, env: Mapping[str, str] | None = None
) -> list[ModelSpec]:
    """Every configured model: `AOMI_MODELS` entries, then the models file's; labels unique."""
    env = os.environ if env is None else env
    specs = parse_models(models, env)
    if models_file is not None:
        specs += read_models_file(models_file, env)
    _no_duplicates(specs, "AOMI_MODELS and AOMI_MODELS_FILE")
    return specs
