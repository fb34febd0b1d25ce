"""The SDK against real `aomi serve` processes: the e2e `server` fixture (SQLite and PostgreSQL),
a keyed App key, and a server on the test chain with wallet proofs and a session rate limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from pydantic import SecretStr

from aomi.cli.common import open_key_store
from aomi.settings import Settings
from tests.conftest import TEST_SECRET
from tests.e2e.conftest import ServerProcess, env, server
from tests.support.anvil import ChainFixture, chain_snapshot
from tests.support.chain import chain_env
from tests.support.fixtures import price_api

__all__ = ["env", "price_api", "server"]

WALLET = "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045"
SESSION_RATE_LIMIT = 4  # requests per minute and session on `strict_server`


@pytest_asyncio.fixture
async def app_key(env: dict[str, str]) -> str:
    """A key for the keyed example App `mycoindex`, issued on the server's database (as
    `aomi keys create` does, in-process: a CLI process costs seconds)."""
    settings = Settings(
        database_url=env["AOMI_DATABASE_URL"],
        secret_key=SecretStr(TEST_SECRET),
        data_dir=env["AOMI_DATA_DIR"],
    )
    async with open_key_store(settings) as store:
        issued = await store.create(["mycoindex"], slug="mcd")
    return issued.key


@pytest.fixture
def strict_server(
    env: dict[str, str], tmp_path: Path, chain_fixture: ChainFixture
) -> Iterator[ServerProcess]:
    """A server on the test chain that requires wallet proofs and rate-limits sessions."""
    strict = {
        **env,
        **chain_env(chain_fixture),
        "AOMI_WALLET_PROOF": "required",
        "AOMI_RATE_LIMIT_PER_SESSION": f"{SESSION_RATE_LIMIT}/minute",
    }
    with chain_snapshot(chain_fixture.url):
        proc = ServerProcess(strict, int(env["AOMI_PORT"]), tmp_path / "server.log")
        proc.start()
        yield proc
        proc.stop()
