"""Typed exceptions carry the server's status and code; keyed Apps, wallet proofs, rate limits
and a real simulation, on a server on the test chain (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest
from eth_account import Account

from aomi.client import (
    AomiClientError,
    AomiConnectionError,
    AsyncAomiClient,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    SessionBusyError,
    UnauthorizedError,
)
from tests.client.conftest import SESSION_RATE_LIMIT
from tests.e2e.conftest import ServerProcess
from tests.support.anvil import ChainFixture
from tests.support.price_server import FakePriceApi
from tests.support.serving import free_port
from tests.support.siwe import sign, siwe_text

pytestmark = pytest.mark.e2e


def code_of(error: pytest.ExceptionInfo[AomiClientError]) -> tuple[int, str]:
    assert error.value.message, error.value
    return error.value.status, error.value.code


async def keyed_apps(url: str, key: str) -> None:
    async with AsyncAomiClient(url, app="mycoindex") as anonymous:
        with pytest.raises(UnauthorizedError) as needed:
            await anonymous.send_message(str(uuid.uuid4()), "hi")
        assert code_of(needed) == (401, "app_key_required")
    async with AsyncAomiClient(url, app="mycoindex", app_key="sk-bad-" + "x" * 40) as wrong:
        with pytest.raises(UnauthorizedError) as invalid:
            await wrong.get_models()
        assert code_of(invalid) == (401, "invalid_app_key")
        with pytest.raises(UnauthorizedError) as stream_refused:  # a refusal is not retried
            async for _ in wrong.subscribe_updates(str(uuid.uuid4())):
                pass
        assert code_of(stream_refused) == (401, "invalid_app_key")
    async with AsyncAomiClient(url, app="mycoindex", app_key=key) as keyed:
        assert await keyed.get_apps() == ["default", "mycoindex"]
        keyed_sid = str(uuid.uuid4())
        sent = await keyed.send_message(keyed_sid, "hello")
        assert sent.is_processing
        with pytest.raises(NotFoundError) as unknown_app:
            await keyed.get_models(app="nope")
        assert code_of(unknown_app) == (404, "app_not_found")
    async with AsyncAomiClient(url) as anonymous:
        # Chat spends the App's budget: the session id alone is no credential for it.
        with pytest.raises(ForbiddenError) as not_yours:
            await anonymous.send_message(keyed_sid, "hi")
        assert code_of(not_yours) == (403, "session_forbidden")


async def refusals(url: str, price_api: FakePriceApi) -> None:
    async with AsyncAomiClient(url) as client:
        with pytest.raises(InvalidInputError) as bad_id:
            await client.fetch_state("not-a-uuid")
        assert code_of(bad_id) == (400, "invalid_session_id")
        with pytest.raises(NotFoundError) as missing:
            await client.interrupt(str(uuid.uuid4()))
        assert code_of(missing) == (404, "session_not_found")
        with pytest.raises(PayloadTooLargeError) as large:
            await client.send_message(str(uuid.uuid4()), "x" * 40_000)
        assert code_of(large) == (413, "payload_too_large")
        with pytest.raises(AomiClientError) as unknown_code:
            await client.request("PUT", "/api/chat")
        assert type(unknown_code.value) is AomiClientError
        assert code_of(unknown_code) == (405, "method_not_allowed")

        price_api.delay = 5  # the turn waits on the price tool
        sid = str(uuid.uuid4())
        await client.send_message(sid, "What is the price of ETH?")
        with pytest.raises(SessionBusyError) as busy:
            await client.send_message(sid, "and BTC?")
        assert code_of(busy) == (409, "session_busy")
        assert (await client.interrupt(sid)).status == "interrupted"
        price_api.delay = 0

        limited = str(uuid.uuid4())
        for _ in range(SESSION_RATE_LIMIT):
            await client.fetch_state(limited)
        with pytest.raises(RateLimitedError) as too_many:
            await client.fetch_state(limited)
        assert code_of(too_many) == (429, "rate_limited")
        assert too_many.value.retry_after is not None and too_many.value.retry_after > 0


async def wallet_proof(url: str, port: int) -> None:
    account = Account.create()
    async with AsyncAomiClient(url) as client:
        await client.create_thread(str(uuid.uuid4()), public_key=account.address)
        with pytest.raises(UnauthorizedError) as no_token:
            await client.list_threads(account.address)
        assert code_of(no_token) == (401, "wallet_token_required")
        text = siwe_text(account, await client.wallet_nonce(), domain=f"127.0.0.1:{port}")
        token = await client.wallet_verify(text, sign(account, text))
        page = await client.list_threads(account.address, wallet_token=token.token)
        assert len(page.threads) == 1 and page.next_cursor is None
        with pytest.raises(UnauthorizedError) as reused:
            await client.wallet_verify(text, sign(account, text))
        assert code_of(reused) == (401, "invalid_wallet_proof")


async def simulation(url: str, fx: ChainFixture) -> None:
    async with AsyncAomiClient(url) as client:
        tx = {"to": fx.accounts[1].address, "value": str(10**18), "label": "One ETH"}
        result = await client.simulate_batch([tx], sender=fx.accounts[0].address)
        (step,) = result.steps
        assert result.batch_success and (step.label, step.success, step.gas_used) == ("One ETH", True, 21_000)


async def test_typed_errors_keys_proofs_and_simulation(
    strict_server: ServerProcess, app_key: str, price_api: FakePriceApi, chain_fixture: ChainFixture
) -> None:
    await keyed_apps(strict_server.url, app_key)
    await refusals(strict_server.url, price_api)
    await wallet_proof(strict_server.url, strict_server.port)
    await simulation(strict_server.url, chain_fixture)


async def test_an_unreachable_server_is_a_connection_error() -> None:
    async with AsyncAomiClient(f"http://127.0.0.1:{free_port()}") as client:
        with pytest.raises(AomiConnectionError) as down:
            await client.health()
        assert down.value.status == 0 and "cannot reach the Aomi server" in down.value.message
        with pytest.raises(AomiConnectionError):
            async for _ in client.subscribe_updates(str(uuid.uuid4()), retry_delay=0, max_retries=1):
                pass
