"""Every public route through the SDK, once with `AsyncAomiClient` and once with the blocking
`AomiClient`, against a real server on SQLite and on PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any, cast

import anyio
import pytest
from eth_account import Account

from aomi.client import AomiClient, AsyncAomiClient, InvalidInputError, NotFoundError, Snapshot
from tests.client.conftest import WALLET
from tests.e2e.conftest import ServerProcess
from tests.support.siwe import sign, siwe_text

pytestmark = pytest.mark.e2e


class InThread:
    """The blocking client seen through awaitables (each call in a worker thread), so one
    scenario drives both clients."""

    def __init__(self, client: AomiClient) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)

        async def run(*args: Any, **kwargs: Any) -> Any:
            return await anyio.to_thread.run_sync(partial(method, *args, **kwargs))

        return run


async def idle(client: AsyncAomiClient, sid: str, deadline: float = 15) -> Snapshot:
    """Poll the state until the turn has ended."""
    ends = time.monotonic() + deadline
    while True:
        snapshot = await client.fetch_state(sid)
        if not snapshot.is_processing:
            return snapshot
        assert time.monotonic() < ends, snapshot
        await anyio.sleep(0.02)


async def chat_and_events(client: AsyncAomiClient, wallet: str) -> str:
    sid = str(uuid.uuid4())
    created = await client.create_thread(sid, public_key=wallet)
    assert (created.session_id, created.title) == (sid, "New Chat")
    state = {"address": wallet, "chainId": 1, "isConnected": True}
    sent = await client.send_message(sid, "What is the price of ETH?", user_state=state, client_id="c-1")
    assert sent.is_processing and sent.messages[-1].sender == "user"
    final = await idle(client, sid)
    (tool,) = [m for m in final.messages if m.is_tool_call]
    assert tool.tool_result is not None and tool.tool_result[0].startswith("get_token_price")
    assert "$3,456.78" in final.messages[-1].content and final.status == "idle"
    assert final.user_state is not None and final.user_state["address"] == wallet
    notice = await client.send_system_message(sid, "the user opened the settings")
    assert (notice.res.sender, notice.res.content) == ("system", "the user opened the settings")
    assert await client.get_system_events(sid, count=1) == [{"SystemNotice": "the user opened the settings"}]
    stopped = await client.interrupt(sid)
    assert not stopped.is_processing and stopped.messages == (await client.fetch_state(sid)).messages
    return sid


async def threads(client: AsyncAomiClient, first: str, wallet: str) -> None:
    second = str(uuid.uuid4())
    await client.create_thread(second, public_key=wallet)
    page = await client.list_threads(wallet, limit=1)
    assert len(page.threads) == 1 and page.next_cursor is not None
    rest = await client.list_threads(wallet, limit=1, cursor=page.next_cursor)
    assert {page.threads[0].session_id, rest.threads[0].session_id} == {first, second}
    assert (await client.rename_thread(first, "Prices")).title == "Prices"
    assert (await client.archive_thread(first)).is_archived
    assert not (await client.unarchive_thread(first)).is_archived
    thread = await client.get_thread(first)
    assert (thread.title, thread.app, thread.is_archived) == ("Prices", "default", False)
    assert await client.delete_thread(second) is True
    with pytest.raises(NotFoundError) as missing:
        await client.get_thread(second)
    assert (missing.value.status, missing.value.code) == (404, "session_not_found")


async def control(client: AsyncAomiClient, sid: str) -> None:
    assert (await client.get_apps())[0] == "default"
    assert await client.get_namespaces() == await client.get_apps()
    details = {app.name: app for app in await client.get_app_details()}
    assert "offline" in details["default"].models
    assert (await client.get_models())[0] == "offline"
    assert await client.get_models(session_id=sid) == ["offline"]
    chosen = await client.set_model(sid, "offline")
    assert (chosen.success, chosen.rig, chosen.created) == (True, "offline", False)
    saved = await client.save_provider_key(sid, "openai", "sk-test-0123456789abcdef", label="mine")
    assert (saved.provider, saved.label, saved.is_active) == ("openai", "mine", True)
    assert "0123456789" not in saved.key_prefix
    assert [k.provider for k in await client.list_provider_keys(sid)] == ["openai"]
    assert await client.delete_provider_key(sid, "openai") is True
    assert await client.delete_provider_key(sid, "openai") is False
    client_id = f"client-{uuid.uuid4().hex}"
    handles = await client.ingest_secrets(client_id, {"API_TOKEN": "v1", "OTHER": "v2"})
    assert handles == {"API_TOKEN": "$SECRET:API_TOKEN", "OTHER": "$SECRET:OTHER"}
    assert await client.delete_secret(client_id, "API_TOKEN") is True
    assert await client.delete_secret(client_id, "API_TOKEN") is False
    assert await client.clear_secrets(client_id) is True


async def wallet_and_simulate(client: AsyncAomiClient, server: ServerProcess) -> None:
    account = Account.create()
    text = siwe_text(account, await client.wallet_nonce(), domain=f"127.0.0.1:{server.port}")
    token = await client.wallet_verify(text, sign(account, text))
    assert token.address == account.address and token.token
    with pytest.raises(InvalidInputError) as refused:
        await client.simulate_batch([{"to": WALLET}])  # no `from`, and no session wallet to use
    assert (refused.value.status, refused.value.code) == (400, "invalid_transaction")


async def walk(client: AsyncAomiClient, server: ServerProcess) -> None:
    assert await client.health() == "OK"
    assert await client.ready() is True
    wallet = Account.create().address  # a fresh wallet per walk: its thread list is this walk's
    sid = await chat_and_events(client, wallet)
    await threads(client, sid, wallet)
    await control(client, sid)
    await wallet_and_simulate(client, server)


async def test_every_route_with_both_clients(server: ServerProcess) -> None:
    async with AsyncAomiClient(server.url) as native:
        await walk(native, server)
    with AomiClient(server.url) as blocking:
        await walk(cast(AsyncAomiClient, InThread(blocking)), server)
