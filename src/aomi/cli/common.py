"""What every CLI command shares: settings, one-line errors, the key store, durations."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, NoReturn, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from aomi import timeutil
from aomi.apps.registry import AppRegistry, load_registry
from aomi.db.engine import create_engine, upgrade
from aomi.errors import (
    AomiError,
    ChainConfigError,
    InvalidInput,
    KeyNotFound,
    ManifestError,
    ModelConfigError,
    SecretKeyError,
)
from aomi.keys.store import KeyStore
from aomi.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")

EXIT_FAILURE = 1
EXIT_USAGE = 2


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print ``error: <message>`` as one line on stderr and exit."""
    one_line = " ".join(message.split())
    typer.echo(f"error: {one_line}", err=True)
    raise typer.Exit(code)


def _error_message(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        return f"invalid setting AOMI_{field.upper()}: {first['msg']}"
    if isinstance(exc, DBAPIError):
        first_line = (
            str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
        )
        return f"database error: {first_line}"
    if isinstance(exc, SQLAlchemyError):
        return f"database error: {str(exc).splitlines()[0]}"
    if isinstance(exc, AomiError):
        return exc.message
    if isinstance(exc, ConnectionError | TimeoutError):
        return f"cannot connect to the database: {exc}"
    return str(exc) or type(exc).__name__


def guarded(func: Callable[P, T]) -> Callable[P, T]:
    """Turn the errors an operator can cause (bad input, bad settings, no database) into one line."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except InvalidInput as exc:
            fail(_error_message(exc), EXIT_USAGE)
        except (
            AomiError,
            KeyNotFound,
            ManifestError,
            ChainConfigError,
            ModelConfigError,
            SecretKeyError,
            ValidationError,
            SQLAlchemyError,
            OSError,
        ) as exc:
            fail(_error_message(exc))

    return wrapper


def build_settings(**overrides: Any) -> Settings:
    """`Settings()` from the environment (``AOMI_*``), with the options given on the command line."""
    return Settings(**{name: value for name, value in overrides.items() if value is not None})


def load_apps(settings: Settings) -> AppRegistry:
    """The Apps as the server would load them, checked against the configured models."""
    from aomi.agent.models import default_model_registry

    models = default_model_registry(settings)
    return load_registry(settings.apps_dir, models)


def redact_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL has no password we could find either
        return url


@asynccontextmanager
async def open_key_store(settings: Settings) -> AsyncIterator[KeyStore]:
    """A key store on a migrated database (so a fresh install works); the engine is disposed after."""
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)
        yield KeyStore(engine, settings.resolved_secret_key)
    finally:
        await engine.dispose()


def parse_duration_ms(text: str, option: str, *, allow_zero: bool = False) -> int:
    """``30d`` -> milliseconds, or a usage error naming ``option``."""
    try:
        return timeutil.parse_duration_ms(text, option, allow_zero=allow_zero)
    except InvalidInput as exc:
        fail(exc.message, EXIT_USAGE)


def short_time(ms: int | None) -> str:
    """``2026-11-27 21:52`` (UTC) for tables; ``-`` when unset."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
