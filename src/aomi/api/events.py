"""Session events (SPEC 4.2, 4.4): the event log, system messages, and the SSE update stream."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from aomi.api.auth import SESSION_HEADER, parse_session_id, session_id_from
from aomi.api.deps import ServicesDep, app_param, authorized_session, request_fields
from aomi.errors import InvalidInput, PayloadTooLarge
from aomi.services import Services
from aomi.sessions.model import ASYNC_CALLBACK, SYSTEM_NOTICE, Event, Message, Sender

router = APIRouter(prefix="/api", tags=["events"])


@router.get("/events")
async def list_events(
    request: Request,
    services: ServicesDep,
    count: Annotated[int | None, Query(ge=1, description="Only the last `count` events.")] = None,
) -> list[dict[str, Any]]:
    """All the session's SystemEvents, oldest first (delivered or not)."""
    sid = session_id_from(request.headers)
    _, s = await authorized_session(services, request, sid, app_param(request))
    return [e.to_json() for e in await services.manager.store.system_events(s.id, count)]


def _system_event(text: str) -> tuple[str, Any]:
    """JSON object or array text is an AsyncCallback; any other text is a SystemNotice."""
    try:
        value = json.loads(text)
    except ValueError:
        return SYSTEM_NOTICE, text
    if isinstance(value, dict | list):
        return ASYNC_CALLBACK, value
    return SYSTEM_NOTICE, text


@router.post("/system")
async def system_message(request: Request, services: ServicesDep) -> dict[str, Any]:
    """Post a system message into the session (query or JSON body `message`) -> `{"res": Message}`.

    Creates the session if unknown: clients report wallet changes before the first chat.
    """
    sid = session_id_from(request.headers)
    fields = await request_fields(request)
    text = fields.text("message")
    if not text or not text.strip():
        raise InvalidInput("message is required and must not be empty")
    if len(text.encode()) > services.settings.max_message_bytes:
        raise PayloadTooLarge(f"message is larger than {services.settings.max_message_bytes} bytes")
    caller = await services.auth.authorize(fields.app, request.headers)
    s, _ = await services.manager.get_or_create(sid, caller.app.name, caller.app.default_model)
    services.auth.check_session(caller, s)
    msg = Message(seq=s.next_message_seq(), sender=Sender.SYSTEM, content=text)
    s.messages.append(msg)
    s.changed()
    await services.manager.save_messages(s, [msg])
    kind, payload = _system_event(text)
    await services.manager.add_event(s, kind, payload)
    return {"res": msg.to_json()}


def _frame(event: Event, session_id: str) -> ServerSentEvent | None:
    update = event.to_update(session_id)
    if update is None:
        return None
    return ServerSentEvent(data=json.dumps(update), id=str(event.seq))


async def _stream(services: Services, sid: str, last_id: int | None) -> AsyncGenerator[ServerSentEvent, None]:
    """Replay from the log after ``last_id``, then live events; resync from the log after falling behind.

    Without ``last_id`` the stream starts at the session's current end: a subscriber that falls
    behind at once must not be sent the history from before it subscribed.
    """
    store, bus = services.manager.store, services.manager.bus
    if last_id is None:
        s = await services.manager.get(sid)
        sent = s.last_event_seq if s is not None else 0
    # Subscribed with no await since `sent` was read, and before the replay: nothing falls between.
    sub = bus.subscribe(sid)
    try:
        if last_id is not None:
            sent = last_id
            for event in await store.events_after(sid, last_id):
                sent = event.seq
                if (frame := _frame(event, sid)) is not None:
                    yield frame
        while True:
            live = await sub.next()
            if live is None:  # fell behind: the log has everything the queue dropped
                sub.reset()
                missed = await store.events_after(sid, sent)
            else:
                missed = [live]
            for event in missed:
                if event.seq <= sent:
                    continue
                sent = event.seq
                if (frame := _frame(event, sid)) is not None:
                    yield frame
    finally:
        bus.unsubscribe(sub)


def _last_event_id(request: Request) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.query_params.get("last_event_id")
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise InvalidInput("Last-Event-ID must be an event id this server sent (a whole number)")
    return int(raw)


@router.get("/updates")
async def updates(request: Request, services: ServicesDep) -> EventSourceResponse:
    """Server-sent events of one session (`id: <seq>` and JSON `data` with `type` and `session_id`).

    The session comes from X-Session-Id (or `session_id` in the query, for EventSource); it may
    not exist yet. `Last-Event-ID` replays what was missed from the persisted log.
    """
    raw_sid = request.headers.get(SESSION_HEADER) or request.query_params.get("session_id")
    sid = parse_session_id(raw_sid)
    caller = await services.auth.authorize(app_param(request), request.headers)
    last_id = _last_event_id(request)
    s = await services.manager.get(sid)
    if s is not None:
        services.auth.check_session(caller, s)
    return EventSourceResponse(
        _stream(services, sid, last_id),
        ping=services.settings.sse_keepalive_seconds,
        send_timeout=30,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
