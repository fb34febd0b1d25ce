"""The agent turn (SPEC 5): user message committed, agent run streamed into the session,
interrupt by cancellation, limits, and the turn's end written in one transaction."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import httpx
from pydantic_ai import Agent, AgentRunResultEvent, RunCancelled, RunContext, capture_run_messages
from pydantic_ai.exceptions import UsageLimitExceeded
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, repair_messages
from pydantic_ai.usage import UsageLimits

from aomi.agent.deps import TurnDeps
from aomi.agent.models import ModelRegistry
from aomi.agent.projection import TurnProjection
from aomi.apps.registry import App, AppRegistry
from aomi.chain.addresses import chain_name
from aomi.db.engine import is_unavailable
from aomi.errors import AomiError, SessionBusy
from aomi.sessions.manager import SessionManager
from aomi.sessions.model import (
    SYSTEM_ERROR,
    TITLE_CHANGED,
    TURN_FINISHED,
    TURN_STARTED,
    Message,
    Sender,
    Session,
    Status,
)
from aomi.sessions.titles import first_user_message, heuristic_title, needs_title
from aomi.settings import Settings
from aomi.timeutil import now_ms
from aomi.tools.registry import tools_for

log = logging.getLogger("aomi.agent")

OUTAGE_MESSAGE = "The turn stopped: the database became unavailable while it ran."


def wallet_context(ctx: RunContext[TurnDeps]) -> str:
    """The context block: what the agent knows of the user's wallet, fresh for every request."""
    deps = ctx.deps
    if deps.wallet_address is None:
        return "Wallet: none connected."
    chain = chain_name(deps.chain_id) or "unknown chain"
    suffix = f" (chain id {deps.chain_id})" if deps.chain_id is not None else ""
    return f"Wallet: {deps.wallet_address} on {chain}{suffix}."


class TurnRunner:
    def __init__(
        self,
        manager: SessionManager,
        models: ModelRegistry,
        apps: AppRegistry,
        settings: Settings,
        http: httpx.AsyncClient,
    ) -> None:
        self.manager = manager
        self.models = models
        self.apps = apps
        self.settings = settings
        self.http = http
        self._agents: dict[tuple[str, str], Agent[TurnDeps, str]] = {}
        # Turns already told to stop, or already writing their end: never cancelled (again), since
        # a cancellation landing in the end's writes would leave the session `processing`.
        self._ending: set[asyncio.Task[None]] = set()

    def _agent(self, app: App, model_label: str) -> Agent[TurnDeps, str]:
        key = (app.name, model_label)
        agent = self._agents.get(key)
        if agent is None:
            agent = Agent(
                self.models.get(model_label),
                deps_type=TurnDeps,
                output_type=str,
                instructions=[app.preamble, wallet_context],
                tools=tools_for(app),
            )
            self._agents[key] = agent
        return agent

    async def start(self, s: Session, text: str, changes: Mapping[str, Any] | None = None) -> None:
        """Commit the user message (with ``changes`` to the session's attributes) and start the turn
        in the background; SessionBusy if one runs. Memory changes only after the commit."""
        if not s.idle_here:
            raise SessionBusy("a turn is already running in this session; wait for it or interrupt it")
        user_msg = Message(seq=s.next_message_seq(), sender=Sender.USER, content=text)
        after = replace(
            s,
            **(changes or {}),
            status=Status.PROCESSING,
            lease_owner=self.manager.owner,
            updated_ms=now_ms(),
        )
        s.starting = True  # a second chat here is refused at once, not by the database
        try:
            claimed = await self.manager.store.begin_turn(after, user_msg, self.manager.leases)
        finally:
            s.starting = False
        if not claimed:
            raise SessionBusy("a turn is already running in this session (on another server)")
        for name, value in (changes or {}).items():
            setattr(s, name, value)
        s.status, s.lease_owner, s.updated_ms = after.status, after.lease_owner, after.updated_ms
        s.add_message(user_msg)
        try:
            await self.manager.add_event(s, TURN_STARTED, {})
        except Exception:  # the message is committed: the turn runs even if the announcement failed
            log.exception("session %s: announcing the turn failed", s.id)
        s.task = asyncio.create_task(self._run(s, text), name=f"turn-{s.id}")

    async def interrupt(self, s: Session) -> None:
        """Cancel the running turn (model call and tools) and wait until its end is written."""
        task = s.task
        if task is None:
            return
        if task not in self._ending:
            self._ending.add(task)
            task.cancel()
        await asyncio.wait({task})

    async def shutdown(self) -> None:
        """Interrupt every running turn (graceful stop): their partial answers are kept."""
        await asyncio.gather(*(self.interrupt(s) for s in self.manager.running()))

    async def _run(self, s: Session, text: str) -> None:
        proj = TurnProjection(s)
        status: Status = Status.IDLE
        error: str | None = None
        history: list[ModelMessage] | None = None
        flusher = asyncio.create_task(self._flush_loop(s, proj))
        try:
            with capture_run_messages() as captured:
                try:
                    history = await self._stream(s, text, proj)
                except RunCancelled as exc:  # includes RunTimedOut (the turn's wall-time limit)
                    status, history = Status.ERROR, exc.all_messages()
                    error = (
                        f"The turn took longer than {self.settings.turn_timeout_seconds:g} s and was stopped."
                    )
                except UsageLimitExceeded as exc:
                    status, history, error = Status.ERROR, list(captured), f"The turn hit a limit: {exc}"
                except AomiError as exc:
                    status, error = Status.ERROR, exc.message
                except Exception as exc:
                    log.exception("session %s: turn failed", s.id)
                    status, history = Status.ERROR, list(captured)
                    error = (
                        OUTAGE_MESSAGE
                        if is_unavailable(exc)
                        else f"The turn failed: {type(exc).__name__}: {exc}"
                    )
        except asyncio.CancelledError as exc:
            status = Status.INTERRUPTED
            cancelled = RunCancelled.from_cancellation(exc)
            history = cancelled.all_messages() if cancelled is not None else history
        finally:
            task = asyncio.current_task()
            assert task is not None
            self._ending.add(task)
            try:
                flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flusher
                await self._finish(s, proj, status, history, error)
            finally:
                self._ending.discard(task)

    async def _stream(self, s: Session, text: str, proj: TurnProjection) -> list[ModelMessage]:
        app = self.apps.get(s.app)
        if app is None:
            raise AomiError(f"the session's App {s.app!r} no longer exists")
        agent = self._agent(app, s.model)
        deps = TurnDeps(
            app=app,
            session_id=s.id,
            settings=self.settings,
            http=self.http,
            wallet_address=s.wallet_address,
            chain_id=s.chain_id,
        )
        prior = repair_messages(ModelMessagesTypeAdapter.validate_json(s.model_history))
        limits = UsageLimits(request_limit=self.settings.turn_request_limit)
        result: list[ModelMessage] = []
        async with agent.run_stream_events(
            text,
            message_history=prior,
            deps=deps,
            usage_limits=limits,
            timeout=self.settings.turn_timeout_seconds,
        ) as events:
            async for event in events:
                if isinstance(event, AgentRunResultEvent):
                    result = event.result.all_messages()
                    continue
                proj.handle(event)
                done = proj.take_completed()
                if done:
                    await self.manager.save_messages(s, done)
        return result

    async def _flush_loop(self, s: Session, proj: TurnProjection) -> None:
        """Streamed text in progress reaches the database at least every stream_flush_seconds."""
        while True:
            await asyncio.sleep(self.settings.stream_flush_seconds)
            msg = proj.take_streaming()
            if msg is not None:
                try:
                    await self.manager.save_messages(s, [msg])
                except Exception:  # a failed flush is retried on the next tick and at turn end
                    log.exception("session %s: flushing streamed text failed", s.id)
                    proj.text_dirty = True

    async def _finish(
        self,
        s: Session,
        proj: TurnProjection,
        status: Status,
        history: list[ModelMessage] | None,
        error: str | None,
    ) -> None:
        proj.close_all()
        if history:
            s.model_history = ModelMessagesTypeAdapter.dump_json(history)
        s.updated_ms = now_ms()
        titled = status is Status.IDLE and needs_title(s)
        if titled:
            s.title = heuristic_title(first_user_message(s))
        try:
            # Written before memory says so: a client that sees the turn end can send at once,
            # and finds the turn's SystemError already there.
            await self.manager.store.finish_turn(s, proj.take_completed(), status)
            if error is not None:
                await self.manager.add_event(s, SYSTEM_ERROR, error)
            if titled:
                await self.manager.add_event(s, TITLE_CHANGED, {"new_title": s.title})
        except Exception as exc:
            log.exception("session %s: writing the end of the turn failed", s.id)
            if is_unavailable(exc):
                # The database has not heard the end: once it is back, orphan recovery settles the
                # turn, and says why; until then memory must not show what the database lacks.
                self.manager.note_outage(s.id)
        s.status, s.lease_owner, s.lease_expires_ms, s.task = status, None, None, None
        s.changed()
        try:
            await self.manager.add_event(s, TURN_FINISHED, {"status": status.value})
        except Exception:
            log.exception("session %s: announcing the end of the turn failed", s.id)
