"""The agent turn (SPEC 5): user message committed, agent run streamed into the session,
interrupt by cancellation, limits, provider failures, and the turn's end written in one
transaction. The model history is appended as the turn produces it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
from pydantic_ai import (
    Agent,
    AgentRunResultEvent,
    DeferredToolRequests,
    DeferredToolResults,
    FunctionToolCallEvent,
    RunCancelled,
    RunContext,
    capture_run_messages,
)
from pydantic_ai.direct import model_request
from pydantic_ai.exceptions import (
    ModelAPIError,
    RunTimedOut,
    UsageLimitExceeded,
)
from pydantic_ai.messages import ModelMessage, ModelRequest, repair_messages
from pydantic_ai.models import Model
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RunUsage, UsageLimits

from aomi.agent.deps import TurnDeps
from aomi.agent.failures import provider_failure, redact
from aomi.agent.history import HistoryLog, RequestHistory, last_answer, load
from aomi.agent.models import ModelRegistry
from aomi.agent.projection import TurnProjection
from aomi.apps.registry import App, AppRegistry
from aomi.byok import ProviderKeys, owner_of
from aomi.chain.addresses import chain_name
from aomi.chain.kit import ChainKit
from aomi.db.engine import is_unavailable
from aomi.docs.service import Documents
from aomi.errors import AomiError, SessionBusy
from aomi.metrics import Metrics
from aomi.secrets import AppSecrets
from aomi.sessions.manager import SessionManager
from aomi.sessions.model import (
    INLINE_CALL,
    SYSTEM_ERROR,
    TITLE_CHANGED,
    TURN_FINISHED,
    TURN_STARTED,
    Message,
    Sender,
    Session,
    Status,
)
from aomi.sessions.store import TitleCharge, TurnStart
from aomi.sessions.titles import (
    TITLE_MAX_TOKENS,
    TITLE_PROMPT,
    clean_title,
    first_user_message,
    heuristic_title,
    needs_title,
)
from aomi.settings import Settings
from aomi.timeutil import now_ms
from aomi.tools.registry import tools_for
from aomi.usage import PARKED, TurnUsage
from aomi.wallet.outcomes import outcome
from aomi.wallet.requests import RequestStatus, WalletAnswer, WalletRequest, answered

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


@dataclass
class TurnState:
    """What one turn accumulates besides its messages."""

    session: Session
    text: str | None
    """The user's message; None for the resumed part of a parked turn."""
    key_id: str | None
    model_label: str
    provider: str
    history: HistoryLog
    started: float = field(default_factory=time.monotonic)
    api_key: str | None = None
    usage: RunUsage = field(default_factory=RunUsage)
    model: Model | None = None
    checkpoints: int = 0
    saving: asyncio.Lock = field(default_factory=asyncio.Lock)
    """The run's checkpoints and the event loop both save progress: one write at a time."""
    closed: list[WalletRequest] = field(default_factory=list)
    """Settled wallet requests of the parked part before this one: their results go to the agent."""
    deferred: DeferredToolRequests | None = None
    """The wallet calls this part ended with: the turn parks."""
    deps: TurnDeps | None = None

    def redact(self, text: str) -> str:
        """Error text without the provider key or any secret value the turn's tools resolved."""
        text = redact(text, self.api_key)
        return self.deps.redact(text) if self.deps is not None else text


class TurnRunner:
    def __init__(
        self,
        manager: SessionManager,
        models: ModelRegistry,
        apps: AppRegistry,
        settings: Settings,
        http: httpx.AsyncClient,
        chain: ChainKit,
        *,
        provider_keys: ProviderKeys | None = None,
        secrets: AppSecrets | None = None,
        documents: Documents | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.manager = manager
        self.metrics = metrics
        self.secrets = secrets
        self.documents = documents
        self.chain = chain
        self.models = models
        self.apps = apps
        self.settings = settings
        self.http = http
        self.provider_keys = provider_keys
        self._agents: dict[str, Agent[TurnDeps, str | DeferredToolRequests]] = {}
        # Turns already told to stop, or already writing their end: never cancelled (again), since
        # a cancellation landing in the end's writes would leave the session `processing`.
        self._ending: set[asyncio.Task[None]] = set()
        self._titling: set[asyncio.Task[None]] = set()
        self.stopping = False

    def _agent(self, app: App) -> Agent[TurnDeps, str | DeferredToolRequests]:
        """One agent per App; the model is chosen per turn. A run that ends in wallet calls
        outputs them (`DeferredToolRequests`): the turn parks."""
        agent = self._agents.get(app.name)
        if agent is None:
            agent = Agent(
                None,
                deps_type=TurnDeps,
                output_type=[str, DeferredToolRequests],
                instructions=[app.preamble, wallet_context],
                tools=tools_for(app),
                toolsets=self.apps.toolsets(app.name),
                capabilities=[RequestHistory(self.settings.history_token_budget)],
            )
            self._agents[app.name] = agent
        return agent

    async def start(
        self,
        s: Session,
        text: str,
        changes: Mapping[str, Any] | None = None,
        *,
        key_id: str | None = None,
    ) -> None:
        """Commit the user message (with ``changes`` to the session's attributes) and start the turn
        in the background; SessionBusy if one runs. Memory changes only after the commit.
        ``key_id``: the App key that pays for the turn (usage)."""
        if not s.idle_here:
            raise SessionBusy("a turn is already running in this session; wait for it or interrupt it")
        user_msg = Message(seq=-1, sender=Sender.USER, content=text)  # the database numbers it
        after = replace(
            s,
            **(changes or {}),
            status=Status.PROCESSING,
            lease_owner=self.manager.owner,
            updated_ms=now_ms(),
            parked_until_ms=None,
        )
        byok = self._byok(after)
        s.starting = True  # a second chat here is refused at once, not by the database
        try:
            async with self.manager.logging_events(s, (TURN_STARTED, {})) as events:
                begun = await self.manager.store.begin_turn(
                    after,
                    user_msg,
                    self.manager.leases,
                    events,
                    byok,
                    supersede=s.parked,
                    attributes=list(changes or {}),
                )
                if begun is None:
                    raise SessionBusy("a turn is already running in this session (on another server)")
                for name, value in (changes or {}).items():
                    setattr(s, name, value)
                s.status, s.lease_owner, s.updated_ms = after.status, after.lease_owner, after.updated_ms
                s.parked_until_ms, s.wallet_requests = None, []
                s.add_message(user_msg)  # numbered by the database: the first of the turn's block
                s.reserve(begun.message_seq + 1)
        finally:
            s.starting = False
        self._launch(TurnState(s, text, key_id, after.model, "", HistoryLog(begun.history)), begun)

    def _byok(self, s: Session) -> tuple[str, str] | None:
        """Whose BYOK key, for which provider, the turn's claiming transaction reads."""
        spec = self.models.spec(s.model) if s.model in self.models else None
        if spec is None or self.provider_keys is None:
            return None
        return owner_of(s), spec.provider

    def _launch(self, turn: TurnState, begun: TurnStart) -> None:
        turn.closed = begun.closed
        spec = self.models.spec(turn.model_label) if turn.model_label in self.models else None
        if self.provider_keys is not None and spec is not None and begun.sealed_key is not None:
            turn.api_key = self.provider_keys.opened(spec.provider, begun.sealed_key)
        s = turn.session
        s.task = asyncio.create_task(self._run(turn), name=f"turn-{s.id}")

    async def settle(self, s: Session, answer: WalletAnswer) -> bool:
        """A wallet's answer to a parked turn's request: stored, and once nothing else is pending
        the turn resumes here. False when no pending request matches it."""
        targets = answered(s.wallet_requests, answer)
        if not targets:
            return False
        await self._resume(s, [replace(r, status=answer.status, answer=answer.detail) for r in targets], None)
        return True

    async def _resume(
        self, s: Session, answers: list[WalletRequest], pending_as: RequestStatus | None
    ) -> None:
        key_id = next((r.key_id for r in s.wallet_requests), None)
        done, begun = await self.manager.store.settle(
            s, answers, self.manager.leases, self._byok(s), pending_as=pending_as
        )
        by_id = {r.id: r for r in answers}
        for r in s.wallet_requests:
            if r.id in done:
                r.status, r.answer = by_id[r.id].status, by_id[r.id].answer
        s.changed()
        if begun is None:
            return
        s.parked_until_ms, s.wallet_requests = None, []
        s.lease_owner, s.updated_ms = self.manager.owner, now_ms()
        s.reserve(begun.message_seq)
        self._launch(TurnState(s, None, key_id, s.model, "", HistoryLog(begun.history)), begun)

    async def expire_parked(self) -> int:
        """Resume every parked turn whose wallet wait is over: the agent hears that it expired.
        Not while the server stops: another replica (or the next start) does it."""
        count = 0
        if self.stopping:
            return 0
        for sid in await self.manager.store.parked_due(now_ms()):
            s = await self.manager.get(sid)
            if s is not None and s.parked and s.task is None:
                await self._resume(s, [], RequestStatus.EXPIRED)
                count += 1
        return count

    async def interrupt(self, s: Session) -> None:
        """Cancel the running turn (model call and tools) and wait until its end is written."""
        task = s.task
        if task is None:
            if s.parked:
                await self._cancel_parked(s)
            return
        if task not in self._ending:
            self._ending.add(task)
            task.cancel()
        await asyncio.wait({task})

    async def _cancel_parked(self, s: Session) -> None:
        """Interrupt a turn that waits for the wallet: its requests are withdrawn."""
        async with self.manager.logging_events(
            s, (TURN_FINISHED, {"status": Status.INTERRUPTED.value})
        ) as ev:
            if not await self.manager.store.cancel_parked(s, ev):
                raise SessionBusy("the turn is no longer waiting for the wallet; try again")
            s.status, s.parked_until_ms, s.wallet_requests = Status.INTERRUPTED, None, []
            s.changed()

    async def shutdown(self, grace_seconds: float = 0.0) -> None:
        """Graceful stop: running turns get up to ``grace_seconds`` to end on their own; the rest
        are interrupted (their partial answers kept). No parked turn resumes meanwhile."""
        self.stopping = True
        running = [s.task for s in self.manager.running() if s.task is not None]
        if running and grace_seconds > 0:
            log.info("waiting up to %g s for %d running turn(s) to end", grace_seconds, len(running))
            await asyncio.wait(running, timeout=grace_seconds)
        left = self.manager.running()
        if left:
            log.warning("interrupting %d turn(s) still running at shutdown", len(left))
        await asyncio.gather(*(self.interrupt(s) for s in left))
        for task in list(self._titling):
            task.cancel()
        await asyncio.gather(*self._titling, return_exceptions=True)

    async def _run(self, turn: TurnState) -> None:
        s = turn.session
        proj = TurnProjection(s)
        status: Status = Status.IDLE
        error: str | None = None
        history: list[ModelMessage] | None = None
        flusher = asyncio.create_task(self._flush_loop(s, proj))
        try:
            with capture_run_messages() as captured:
                try:
                    history = await self._stream(turn, proj)
                except RunTimedOut as exc:  # the turn's wall-time limit
                    status, history = Status.ERROR, exc.all_messages()
                    error = (
                        f"The turn took longer than {self.settings.turn_timeout_seconds:g} s and was stopped."
                    )
                except RunCancelled as exc:  # the run itself was told to stop: an interrupt
                    status, history = Status.INTERRUPTED, exc.all_messages()
                except UsageLimitExceeded as exc:
                    status, history, error = Status.ERROR, list(captured), f"The turn hit a limit: {exc}"
                except ModelAPIError as exc:
                    status, history = Status.ERROR, list(captured)
                    error = turn.redact(provider_failure(turn.provider, turn.model_label, exc, turn.api_key))
                    log.warning("session %s: %s", s.id, error)
                except AomiError as exc:
                    status, history, error = Status.ERROR, list(captured), turn.redact(exc.message)
                except Exception as exc:
                    log.exception("session %s: turn failed", s.id)
                    status, history = Status.ERROR, list(captured)
                    error = (
                        OUTAGE_MESSAGE
                        if is_unavailable(exc)
                        else f"The turn failed: {type(exc).__name__}: {turn.redact(str(exc))}"
                    )
        except asyncio.CancelledError as exc:
            status = Status.INTERRUPTED
            cancelled = RunCancelled.from_cancellation(exc)
            history = cancelled.all_messages() if cancelled is not None else history
            if cancelled is not None:
                turn.usage = cancelled.usage
        finally:
            task = asyncio.current_task()
            assert task is not None
            self._ending.add(task)
            try:
                flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flusher
                if turn.deferred is not None and status is Status.IDLE and history:
                    await self._park(turn, proj, history, turn.deferred)
                else:
                    await self._finish(turn, proj, status, history, error)
            finally:
                self._ending.discard(task)

    async def _model_for(self, turn: TurnState) -> Model:
        """The turn's model, with the client's own key for its provider when it saved one (read
        when the turn began)."""
        spec = self.models.spec(turn.model_label)
        turn.provider = self.models.provider_of(turn.model_label)
        if spec is not None:
            await asyncio.shield(self.models.preload())  # shared by every turn: never cancelled
        if spec is not None and turn.api_key is None and not spec.has_server_key:
            raise AomiError(
                f"The model {turn.model_label} needs a {spec.provider} API key: this server has none. "
                f"Save your own with POST /api/control/provider-keys, or pick another model."
            )
        return self.models.get(turn.model_label, turn.api_key)

    async def _stream(self, turn: TurnState, proj: TurnProjection) -> list[ModelMessage]:
        s = turn.session
        app = self.apps.get(s.app)
        if app is None:
            raise AomiError(f"the session's App {s.app!r} no longer exists")
        turn.model = model = await self._model_for(turn)
        agent = self._agent(app)

        async def checkpoint(messages: Sequence[ModelMessage]) -> None:
            # The first request carries only the new prompt, which the user message already
            # holds: stored with the turn's next write instead of a transaction of its own.
            if turn.checkpoints:
                await self._save_progress(turn, proj, messages)
            turn.checkpoints += 1

        deps = TurnDeps(
            app=app,
            session_id=s.id,
            settings=self.settings,
            http=self.http,
            chain=self.chain,
            wallet_address=s.wallet_address,
            chain_id=s.chain_id,
            checkpoint=checkpoint,
            client_id=s.client_id,
            secrets=self.secrets,
            documents=self.documents,
        )
        turn.deps = deps
        results = await self._wallet_results(turn, proj)
        # The wallet calls a parked turn waits on are answered, not repaired away.
        prior = load(turn.history.rows) if results else repair_messages(load(turn.history.rows))
        limits = UsageLimits(
            request_limit=self.settings.turn_request_limit,
            output_tokens_limit=self.settings.turn_output_token_limit,
        )
        result: list[ModelMessage] = []
        async with agent.run_stream_events(
            turn.text,
            model=model,
            message_history=prior,
            deferred_tool_results=results,
            deps=deps,
            usage_limits=limits,
            timeout=self.settings.turn_timeout_seconds,
        ) as events:
            try:
                async for event in events:
                    if isinstance(event, AgentRunResultEvent):
                        result = event.result.all_messages()
                        if isinstance(event.result.output, DeferredToolRequests):
                            turn.deferred = event.result.output
                        continue
                    proj.handle(event)
                    if isinstance(event, FunctionToolCallEvent) and self.metrics is not None:
                        self.metrics.tool_calls.labels(event.part.tool_name).inc()
                    # A tool call means its model response is complete: stored before tools run.
                    await self._save_progress(
                        turn,
                        proj,
                        events.all_messages() if isinstance(event, FunctionToolCallEvent) else None,
                    )
            finally:
                with contextlib.suppress(Exception):
                    turn.usage = events.usage
        return result

    async def _wallet_results(self, turn: TurnState, proj: TurnProjection) -> DeferredToolResults | None:
        """The settled wallet requests of the part before, as the deferred calls' results; their
        messages get the results as the run produces them."""
        if not turn.closed:
            return None
        s = turn.session
        by_seq = {m.seq: m for m in s.messages}
        calls: dict[str, Any] = {}
        for req in turn.closed:
            calls[req.tool_call_id] = await outcome(
                req,
                self.chain.chains,
                self.settings.receipt_timeout_seconds,
                self.settings.wallet_request_timeout_seconds,
            )
            msg = by_seq.get(req.message_seq) if req.message_seq is not None else None
            if msg is not None:
                proj.resume_call(req.tool_call_id, msg)
        return DeferredToolResults(calls=calls)

    async def _park(
        self,
        turn: TurnState,
        proj: TurnProjection,
        history: list[ModelMessage],
        deferred: DeferredToolRequests,
    ) -> None:
        """The run ended in wallet calls: store them as wallet requests and park the turn (no
        lease, no task) until the wallet answers or the wait expires (SPEC 5 step 4)."""
        s = turn.session
        now = now_ms()
        expires = now + round(self.settings.wallet_request_timeout_seconds * 1000)
        try:
            if deferred.approvals:
                raise AomiError("a tool asked for approval, which this server does not support")
            requests: list[WalletRequest] = []
            for i, call in enumerate(deferred.calls, start=1):
                meta = dict(deferred.metadata.get(call.tool_call_id) or {})
                req = WalletRequest(
                    id=s.wallet_seq + i,
                    kind=str(meta.pop("kind")),  # KeyError: not a wallet tool's deferral
                    tool_call_id=call.tool_call_id,
                    payload=meta,
                    message_seq=None,
                    key_id=turn.key_id,
                    expires_ms=expires,
                    created_ms=now,
                )
                msg = proj.park_call(call.tool_call_id, req.waiting_text())
                req.message_seq = msg.seq if msg is not None else None
                requests.append(req)
            proj.close_all()
            write = turn.history.changes(history)
            s.updated_ms = now
            parked = replace(s, parked_until_ms=expires)
            entries = [(INLINE_CALL, r.inline_call()) for r in requests]
            async with self.manager.logging_events(s, *entries) as events:
                await self.manager.store.park_turn(
                    parked, proj.take_completed(), write, requests, events, self._usage_row(turn, PARKED)
                )
                turn.history.applied(write)
                s.parked_until_ms, s.wallet_requests = expires, requests
                s.wallet_seq += len(requests)
                s.lease_owner, s.lease_expires_ms, s.task = None, None, None
                s.changed()
        except Exception as exc:
            # The turn must end either way: a session left `processing` with no task would hang.
            log.exception("session %s: parking the turn for the wallet failed", s.id)
            why = exc.message if isinstance(exc, AomiError) else "storing it failed"
            await self._finish(
                turn, proj, Status.ERROR, history, f"The turn could not wait for the wallet: {why}."
            )

    async def _save_progress(
        self, turn: TurnState, proj: TurnProjection, messages: Sequence[ModelMessage] | None
    ) -> None:
        """Completed visible messages and new model-history rows, in one transaction."""
        async with turn.saving:
            done = proj.take_completed()
            write = turn.history.changes(messages) if messages is not None else None
            if done or write is not None:
                await self.manager.store.save_progress(turn.session.id, done, write)
                turn.history.applied(write)

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
        turn: TurnState,
        proj: TurnProjection,
        status: Status,
        history: list[ModelMessage] | None,
        error: str | None,
    ) -> None:
        s = turn.session
        proj.close_all()
        write = turn.history.changes(history) if history else None
        s.updated_ms = now_ms()
        titled = status is Status.IDLE and needs_title(s)
        by_model = titled and turn.model is not None and self.models.spec(turn.model_label) is not None
        entries: list[tuple[str, Any]] = []
        if error is not None:
            entries.append((SYSTEM_ERROR, error))
        if titled and not by_model:
            s.title = heuristic_title(first_user_message(s))
            entries.append((TITLE_CHANGED, {"new_title": s.title}))
        entries.append((TURN_FINISHED, {"status": status.value}))
        usage_id: int | None = None
        try:
            # The end, its events and its usage in one transaction, written before memory says so:
            # a client that sees the turn end can send at once, and finds the SystemError there.
            async with self.manager.logging_events(s, *entries) as events:
                usage_id = await self.manager.store.finish_turn(
                    s,
                    proj.take_completed(),
                    status,
                    write,
                    events,
                    self._usage_row(turn, status.value),
                    title=s.title if titled and not by_model else None,
                )
                turn.history.applied(write)
                s.status, s.lease_owner, s.lease_expires_ms, s.task = status, None, None, None
                s.changed()
        except Exception as exc:
            log.exception("session %s: writing the end of the turn failed", s.id)
            by_model = False
            s.status, s.lease_owner, s.lease_expires_ms, s.task = status, None, None, None
            s.changed()
            if is_unavailable(exc):
                # The database has not heard the end: once it is back, orphan recovery settles the
                # turn, and says why; until then memory must not show what the database lacks.
                self.manager.note_outage(s.id)
        if by_model and turn.model is not None and usage_id is not None:
            answer = last_answer(history or [])
            titling = self._title_by_model(s, turn.model, answer, usage_id)
            task = asyncio.create_task(titling, name=f"title-{s.id}")
            self._titling.add(task)
            task.add_done_callback(self._titling.discard)

    def _usage_row(self, turn: TurnState, status: str) -> TurnUsage:
        """The usage row of a turn's end (or park); counted in the metrics too."""
        if self.metrics is not None:
            self.metrics.turns.labels(status).inc()
        u = turn.usage
        return TurnUsage(
            app=turn.session.app,
            key_id=turn.key_id,
            session_id=turn.session.id,
            model_label=turn.model_label,
            provider=turn.provider or self.models.provider_of(turn.model_label),
            requests=u.requests,
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            tool_calls=u.tool_calls,
            status=status,
            duration_ms=round((time.monotonic() - turn.started) * 1000),
            created_ms=now_ms(),
        )

    async def _title_by_model(self, s: Session, model: Model, answer: str, usage_id: int) -> None:
        """A short title from the session's model; the heuristic one when it fails or is slow.
        The title request's tokens are added to the usage of the turn (``usage_id``) before it."""
        question = first_user_message(s)
        title: str | None = None
        charge: TitleCharge | None = None
        try:
            async with asyncio.timeout(self.settings.title_timeout_seconds):
                response = await model_request(
                    model,
                    [ModelRequest.user_text_prompt(TITLE_PROMPT.format(question=question, answer=answer))],
                    model_settings=ModelSettings(max_tokens=TITLE_MAX_TOKENS),
                )
            title = clean_title(response.text or "")
            charge = TitleCharge(usage_id, response.usage.input_tokens, response.usage.output_tokens)
        except Exception as exc:
            log.info(
                "session %s: the model gave no title (%s); using the heuristic", s.id, type(exc).__name__
            )
        title = title or heuristic_title(question)
        try:
            updated = now_ms()
            if not await self.manager.store.set_auto_title(s.id, title, updated, charge):
                return  # titled by hand meanwhile
            s.title, s.updated_ms = title, updated
            s.changed()
            await self.manager.add_event(s, TITLE_CHANGED, {"new_title": title})
        except Exception:
            log.exception("session %s: writing the title failed", s.id)
