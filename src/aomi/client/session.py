"""`AsyncSession`: one conversation (a session id, its App, wallet and client id) and `send`,
which posts a message and follows the turn to its end."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, Unpack

import anyio

from aomi.client.models import ModelSet, Snapshot, SystemResult, Thread, Update
from aomi.client.turn import TurnFollower, TurnHandlers, TurnResult

if TYPE_CHECKING:
    from aomi.client.async_client import AsyncAomiClient

POLL_SECONDS = 0.05
TURN_TIMEOUT = 300.0


class AsyncSession:
    """A session of an `AsyncAomiClient`: ``id`` (a new uuid4 unless given), ``app`` (else the
    client's), the bound ``wallet`` address and ``chain_id``, and ``client_id``."""

    def __init__(
        self,
        client: AsyncAomiClient,
        session_id: str | None = None,
        *,
        app: str | None = None,
        wallet: str | None = None,
        chain_id: int | None = None,
        client_id: str | None = None,
        poll_interval: float = POLL_SECONDS,
    ) -> None:
        self.client = client
        self.id = session_id or str(uuid.uuid4())
        self.app = app or client.app
        self.wallet, self.chain_id, self.client_id = wallet, chain_id, client_id
        self.poll_interval = poll_interval
        self._follower: TurnFollower | None = None
        """The last turn followed: `wait` goes on from what it already reported."""

    @property
    def user_state(self) -> dict[str, Any] | None:
        """The wallet state sent with chat and state polls (None without a wallet)."""
        if self.wallet is None:
            return None
        state: dict[str, Any] = {"address": self.wallet, "is_connected": True}
        if self.chain_id is not None:
            state["chain_id"] = self.chain_id
        return state

    async def send(self, message: str, **handlers: Unpack[TurnHandlers]) -> TurnResult:
        """Post ``message`` and return when the turn has ended (or waits for the wallet).

        While it runs, ``on_text`` receives the answer's new text as it streams, ``on_tool`` each
        tool call, ``on_wallet_request`` each wallet request; a wallet answer it returns (e.g.
        `tx_rejected(request.request_id)`) is posted and the turn goes on. A request left
        unanswered ends `send` with it in `TurnResult.wallet_requests`. TimeoutError after
        ``turn_timeout`` seconds (default 300).
        """
        snapshot = await self.client.send_message(
            self.id,
            message,
            app=self.app,
            public_key=self.wallet,
            user_state=self.user_state,
            client_id=self.client_id,
        )
        self._follower = TurnFollower.after_last_user_message(snapshot)
        return await self._follow(self._follower, snapshot, handlers)

    async def wait(self, **handlers: Unpack[TurnHandlers]) -> TurnResult:
        """Follow the session's current turn to its end (e.g. after answering a wallet request),
        reporting only what the last `send` (or `wait`) has not reported yet."""
        snapshot = await self.state()
        follower = self._follower
        if follower is None:  # a session taken over: what is there now counts as reported
            follower = self._follower = TurnFollower.after_last_user_message(snapshot)
            for message in follower.turn_messages(snapshot):
                follower.emitted[message.id] = "" if message.tool_result is not None else message.content
        follower.pending = []
        return await self._follow(follower, snapshot, handlers)

    async def _follow(self, follower: TurnFollower, snapshot: Snapshot, handlers: TurnHandlers) -> TurnResult:
        with anyio.fail_after(handlers.get("turn_timeout", TURN_TIMEOUT)):
            while True:
                answers = await follower.feed(snapshot, handlers)
                for answer in answers:
                    await self.answer_wallet(answer)
                if not snapshot.is_processing or (follower.pending and not answers):
                    return follower.result(snapshot)
                await anyio.sleep(self.poll_interval)
                snapshot = await self.state()

    async def state(self) -> Snapshot:
        """The session's snapshot now."""
        return await self.client.fetch_state(
            self.id, app=self.app, user_state=self.user_state, client_id=self.client_id
        )

    async def answer_wallet(self, answer: dict[str, Any]) -> SystemResult:
        """Post a wallet answer (`tx_complete`, `tx_rejected`, ...): the parked turn resumes."""
        return await self.client.send_system_message(self.id, json.dumps(answer), app=self.app)

    async def notify(self, text: str) -> SystemResult:
        """Post a system notice into the session."""
        return await self.client.send_system_message(self.id, text, app=self.app)

    async def interrupt(self) -> Snapshot:
        return await self.client.interrupt(self.id, app=self.app)

    async def set_model(self, rig: str) -> ModelSet:
        return await self.client.set_model(self.id, rig, app=self.app, client_id=self.client_id)

    async def models(self) -> list[str]:
        return await self.client.get_models(app=self.app, session_id=self.id)

    async def thread(self) -> Thread:
        return await self.client.get_thread(self.id, app=self.app)

    async def rename(self, title: str) -> Thread:
        return await self.client.rename_thread(self.id, title, app=self.app)

    async def delete(self) -> bool:
        return await self.client.delete_thread(self.id, app=self.app)

    def updates(self, *, last_event_id: str | int | None = None) -> AsyncGenerator[Update, None]:
        """The session's update stream (see `AsyncAomiClient.subscribe_updates`)."""
        return self.client.subscribe_updates(self.id, app=self.app, last_event_id=last_event_id)
