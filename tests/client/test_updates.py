"""The SSE subscription resumes after a dropped connection: the client reconnects with
`Last-Event-ID` and receives every event exactly once, in order (a real server, a proxy cut)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator

import anyio
import pytest

from aomi.client import AsyncAomiClient, Update
from tests.client.proxy import CuttableProxy
from tests.e2e.conftest import ServerProcess

pytestmark = pytest.mark.e2e


async def next_notice(stream: AsyncGenerator[Update, None]) -> Update:
    """The next `system_notice` update (others, if any, are skipped)."""
    with anyio.fail_after(15):
        while True:
            update = await anext(stream)
            if update.type == "system_notice":
                return update


async def test_updates_resume_after_a_dropped_connection(server: ServerProcess) -> None:
    sid = str(uuid.uuid4())
    async with (
        CuttableProxy(server.port).running() as proxy,
        AsyncAomiClient(proxy.url) as via_proxy,
        AsyncAomiClient(server.url) as direct,
    ):
        await direct.create_thread(sid)
        for i in range(1, 4):
            await direct.send_system_message(sid, f"notice {i}")
        stream = via_proxy.subscribe_updates(sid, last_event_id=0, retry_delay=0.05)
        got = [await next_notice(stream) for _ in range(3)]

        proxy.hold()  # the reconnection waits while more events happen
        proxy.cut()
        for i in range(4, 7):
            await direct.send_system_message(sid, f"notice {i}")
        proxy.release()
        got += [await next_notice(stream) for _ in range(3)]
        await direct.send_system_message(sid, "notice 7")
        got.append(await next_notice(stream))
        await stream.aclose()

    assert [u.data["message"] for u in got] == [f"notice {i}" for i in range(1, 8)]
    ids = [int(u.id or 0) for u in got]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert len(proxy.heads) == 2, proxy.heads
    first, second = (head.lower() for head in proxy.heads)
    assert "last-event-id: 0" in first and f"last-event-id: {got[2].id}\r\n" in second
    assert all(u.session_id == sid for u in got)
