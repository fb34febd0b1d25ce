"""Session events (SPEC 4.2, 4.4): the event log, system messages, and the SSE update stream."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from aomi.api.auth import SESSION_HEADER, Caller, parse_session_id, presented_key
from aomi.api.deps import (
    ExistingSession,
    ServicesDep,
    SessionId,
    app_param,
    request_fields,
    session_of,
    session_or_create,
)
from aomi.api.openapi import (
    APP,
    APP_KEY,
    ERRORS,
    NO_NUL,
    NOT_BLANK,
    SESSION_ID,
    SystemOut,
    inputs,
    param,
)
from aomi.errors import KeyInvalid, PayloadTooLarge
from aomi.services import Services
from aomi.sessions.bus import Subscription
from aomi.sessions.model import ASYNC_CALLBACK, SYSTEM_NOTICE, Event
from aomi.timeutil import now_ms
from aomi.validation import INT64_MAX, check_json, parse_count
from aomi.wallet.requests import parse_wallet_answer

router = APIRouter(prefix="/api", tags=["events"], responses=ERRORS)


class SystemIn(BaseModel):
    """The system message as a JSON body (the query wins when both name it)."""

    message: str | None = Field(default=None, pattern=NOT_BLANK)
    app: str | None = Field(default=None, pattern=NO_NUL)


SYSTEM_INPUTS = inputs(
    SESSION_ID,
    APP_KEY,
    param("query", "message", {"type": "string", "minLength": 1, "pattern": NOT_BLANK}, "The message.", True),
    APP,
    body=SystemIn,
)
UPDATES_INPUTS = inputs(
    SESSION_ID,
    APP_KEY,
    APP,
    param(
        "header", "Last-Event-ID", {"type": "string", "pattern": "^[0-9]{1,18}$"}, "Resume after this event."
    ),
    param("query", "last_event_id", {"type": "string", "pattern": "^[0-9]{1,18}$"}, "As `Last-Event-ID`."),
)
UPDATES_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-sent events: `id: <seq>` and JSON `data` with `type` and `session_id`",
        "content": {
            "text/event-stream": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "description": "The event's sequence number."},
                        "event": {"type": "string"},
                        "data": {"type": "string", "description": "JSON with `type` and `session_id`."},
                    },
                }
            }
        },
    }
}
log = logging.getLogger("aomi.api")


@router.get("/events", openapi_extra=inputs(SESSION_ID, APP_KEY, APP))
async def list_events(
    services: ServicesDep,
    s: ExistingSession,
    count: Annotated[
        int | None, Query(ge=1, le=INT64_MAX, description="Only the last `count` events.")
    ] = None,
) -> list[dict[str, Any]]:
    """All the session's SystemEvents, oldest first (delivered or not)."""
    return [e.to_json() for e in await services.sessions.events(s, count)]


def _system_event(text: str) -> tuple[str, Any]:
    """JSON object or array text is an AsyncCallback; any other text is a SystemNotice."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return SYSTEM_NOTICE, text
    if isinstance(value, dict | list):
        return ASYNC_CALLBACK, check_json(value, "message")
    return SYSTEM_NOTICE, text


@router.post("/system", response_model=SystemOut, openapi_extra=SYSTEM_INPUTS)
async def system_message(request: Request, services: ServicesDep, sid: SessionId) -> dict[str, Any]:
    """Post a system message into the session (query or JSON body `message`) -> `{"res": Message}`.

    Creates the session if unknown: clients report wallet changes before the first chat. A wallet
    answer (`wallet:tx_complete`, `wallet_tx_response`, `wallet_eip712_response`) settles the
    pending wallet request it names (else the oldest of its kind), and the parked turn resumes.
    """
    fields = await request_fields(request)
    text = fields.message()
    if len(text.encode()) > services.settings.max_message_bytes:
        raise PayloadTooLarge(f"message is larger than {services.settings.max_message_bytes} bytes")
    kind, payload = _system_event(text)
    answer = parse_wallet_answer(payload) if kind == ASYNC_CALLBACK else None  # checked before storing
    _, s, _ = await session_or_create(services, request, sid, fields.app)
    msg = await services.sessions.post_system(s, text, kind, payload)
    if answer is not None:
        await services.sessions.answer_wallet(s, answer)
    return {"res": msg.to_json()}


def _frame(event: Event, session_id: str) -> ServerSentEvent | None:
    update = event.to_update(session_id)
    if update is None:
        return None
    return ServerSentEvent(data=json.dumps(update), id=str(event.seq))


# A stream opened with a key re-checks it this often, trusting a cached verification for at
# most KEY_RECHECK_MAX_AGE: a revoked key ends the stream within about 0.75 s. An expiring key is
# also checked at its deadline, so its stream ends then, not up to a tick later.
KEY_RECHECK_SECONDS = 0.25
KEY_RECHECK_MAX_AGE = 0.5


async def _watch_key(services: Services, key: str, sub: Subscription) -> None:
    """Close the subscription once the stream's key stops being valid (revoked, expired)."""
    expires_ms: int | None = None
    while True:
        wait = KEY_RECHECK_SECONDS
        if expires_ms is not None:
            wait = min(wait, max(0.0, (expires_ms - now_ms()) / 1000))
        # Asked again even at the deadline: the key's expiry may have been moved meanwhile.
        await asyncio.sleep(wait)
        try:
            expires_ms = (await services.verifier.verify(key, max_age=KEY_RECHECK_MAX_AGE)).expires_ms
        except KeyInvalid:
            break
        except Exception:  # the database is away: keep the stream, ask again on the next tick
            log.warning("could not re-check an event stream's App key", exc_info=True)
    sub.close()


async def _may_deliver(services: Services, caller: Caller, sid: str) -> bool:
    """SPEC 3 step 7 for events about to be sent: the session may have appeared or moved App since."""
    if not services.auth.checks_streams(caller):
        return True
    s = await services.manager.get(sid)
    return s is None or services.auth.may_follow(caller, s.app)


async def _stream(
    services: Services, sid: str, last_id: int | None, caller: Caller, key: str | None
) -> AsyncGenerator[ServerSentEvent, None]:
    """Replay from the log after ``last_id``, then live events; resync from the log after falling behind.

    Without ``last_id`` the stream starts at the session's current end: a subscriber that falls
    behind at once must not be sent the history from before it subscribed. The stream ends when
    its key stops being valid, or when the session turns out to be one the caller may not follow.
    """
    sessions = services.sessions
    if last_id is None:
        s = await services.manager.get(sid)
        sent = s.last_event_seq if s is not None else 0
    # Subscribed with no await since `sent` was read, and before the replay: nothing falls between.
    sub = sessions.subscribe(sid)
    watch = asyncio.create_task(_watch_key(services, key, sub)) if key is not None else None
    try:
        if last_id is not None:
            sent = last_id
            missed = await sessions.events_after(sid, last_id)
        else:
            missed = []
        while True:
            if missed and not await _may_deliver(services, caller, sid):
                return
            for event in missed:
                if event.seq <= sent:
                    continue
                sent = event.seq
                if (frame := _frame(event, sid)) is not None:
                    yield frame
            live = await sub.next()
            if live is not None:
                missed = [live]
            elif sub.closed:
                return
            else:  # fell behind: the log has everything the queue dropped
                sub.reset()
                missed = await sessions.events_after(sid, sent)
    finally:
        if watch is not None:
            watch.cancel()
        sessions.unsubscribe(sub)


def _last_event_id(request: Request) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.query_params.get("last_event_id")
    if raw is None or raw == "":
        return None
    return parse_count(raw, "Last-Event-ID")


@router.get(
    "/updates", response_class=EventSourceResponse, responses=UPDATES_STREAM, openapi_extra=UPDATES_INPUTS
)
async def updates(request: Request, services: ServicesDep) -> EventSourceResponse:
    """Server-sent events of one session (`id: <seq>` and JSON `data` with `type` and `session_id`).

    The session comes from X-Session-Id (or `session_id` in the query, for EventSource); it may
    not exist yet. `Last-Event-ID` replays what was missed from the persisted log.
    """
    raw_sid = request.headers.get(SESSION_HEADER) or request.query_params.get("session_id")
    sid = parse_session_id(raw_sid)
    last_id = _last_event_id(request)
    caller, _ = await session_of(services, request, sid, app_param(request))
    key = presented_key(request.headers) if caller.key is not None else None
    return EventSourceResponse(
        _stream(services, sid, last_id, caller, key),
        ping=services.settings.sse_keepalive_seconds,
        send_timeout=30,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
