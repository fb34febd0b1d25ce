"""`AsyncSession` and `Session`: send a message and follow the turn (text, tool calls, wallet
requests) to its end, against a real server on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from itertools import islice

import pytest

from aomi.client import (
    AomiClient,
    AsyncAomiClient,
    ToolCall,
    WalletRequest,
    rejection,
    tx_rejected,
)
from tests.client.conftest import WALLET
from tests.e2e.conftest import ServerProcess

pytestmark = pytest.mark.e2e

BURN = "0x000000000000000000000000000000000000dEaD"


async def async_session_turns(url: str) -> None:
    async with AsyncAomiClient(url) as client:
        session = client.session(wallet=WALLET, chain_id=1)
        assert uuid.UUID(session.id).version == 4
        texts: list[str] = []
        tools: list[ToolCall] = []
        result = await session.send("What is the price of ETH?", on_text=texts.append, on_tool=tools.append)
        assert result.status == "idle" and not result.waiting_for_wallet
        assert "".join(texts) == result.text and "$3,456.78" in result.text
        assert [t.topic.split("(")[0] for t in tools] == ["get_token_price"] and result.tool_calls == tools

        seen: list[WalletRequest] = []

        async def answer(request: WalletRequest) -> dict[str, object]:
            seen.append(request)
            return rejection(request)

        result = await session.send(f"send 0.1 ETH to {BURN}", on_wallet_request=answer)
        (request,) = seen
        assert request.is_transaction and request.request_id == 1
        assert (request.payload["to"], request.payload["value"]) == (BURN, str(10**17))
        assert result.status == "idle" and "did not go through" in result.text
        # the call, the wallet answer as a system message, the agent's reply
        assert [m.sender for m in result.messages] == ["agent", "system", "agent"]


def sync_session_turns(url: str) -> None:
    with AomiClient(url) as client:
        sid = str(uuid.uuid4())
        session = client.session(sid, wallet=WALLET, chain_id=1)
        assert session.id == sid and session.wallet == WALLET
        parked = session.send(f"send 0.2 ETH to {BURN}")
        assert parked.waiting_for_wallet and parked.status == "processing"
        (request,) = parked.wallet_requests
        assert parked.snapshot.user_state is not None
        assert list(parked.snapshot.user_state["pending_txs"]) == [str(request.request_id)]
        session.answer_wallet(tx_rejected(request.request_id, "not now"))
        texts: list[str] = []
        done = session.wait(on_text=texts.append)
        assert done.status == "idle" and "not now" in "".join(texts)
        assert session.thread().session_id == sid
        assert session.rename("Transfers").title == "Transfers"
        assert session.notify("wallet switched").res.sender == "system"
        assert session.models() == ["offline"] and session.set_model("offline").success
        updates = list(islice(session.updates(last_event_id=0), 4))
        assert [u.type for u in updates][:1] == ["turn_started"]
        ids = [int(u.id or 0) for u in updates]
        assert ids == sorted(set(ids)) and all(u.session_id == sid for u in updates)
        assert session.delete() is True and session.state().messages == []


async def test_sessions_follow_turns(server: ServerProcess) -> None:
    await async_session_turns(server.url)
    sync_session_turns(server.url)
