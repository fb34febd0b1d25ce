"""A real `aomi serve` process per test, on SQLite and PostgreSQL.

The process helpers live in `tests.support.server_process` (shared with tests/load and
tests/web); they stay importable from here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fixtures import price_api
from tests.support.price_server import FakePriceApi
from tests.support.server_process import AOMI, ROOT, ServerProcess, running_server, server_env, wait_idle

__all__ = ["AOMI", "ROOT", "ServerProcess", "price_api", "wait_idle"]


@pytest.fixture
def env(tmp_path: Path, database_url: str, price_api: FakePriceApi) -> dict[str, str]:
    return server_env(tmp_path, database_url, price_api.url)


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(env, tmp_path) as proc:
        yield proc
