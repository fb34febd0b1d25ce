"""Chat and state routes (SPEC 4.2): POST /api/chat, GET /api/state, POST /api/interrupt."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from aomi.api.auth import Caller, session_id_from
from aomi.api.deps import (
    ServicesDep,
    app_param,
    authorized_session,
    create_session,
    json_response,
    request_fields,
    session_of,
)
from aomi.errors import InvalidInput, PayloadTooLarge, SessionBusy
from aomi.sessions.model import Session, empty_snapshot
from aomi.sessions.user_state import parse_wallet

router = APIRouter(prefix="/api", tags=["chat"])

SNAPSHOT_DOC: dict[int | str, dict[str, Any]] = {
    200: {"description": "The session snapshot: messages, system_events, title, status, user_state"}
}


def _move_to_app(s: Session, caller: Caller) -> None:
    """A session moves to the requested App when the caller may use both (its history goes along)."""
    if s.app != caller.app.name:
        s.app = caller.app.name
        if s.model not in caller.app.allowed_models:
            s.model = caller.app.default_model
        s.changed()


@router.post("/chat", responses=SNAPSHOT_DOC)
async def chat(request: Request, services: ServicesDep) -> Response:
    """Send a user message; the turn runs in the background. Creates the session if unknown."""
    sid = session_id_from(request.headers)
    fields = await request_fields(request)
    caller, s = await session_of(services, request, sid, fields.app)
    message = (fields.text("message") or "").strip()
    if not message:
        raise InvalidInput("message is required and must not be empty")
    size = len(message.encode())
    if size > services.settings.max_message_bytes:
        raise PayloadTooLarge(
            f"message is {size} bytes; the limit is {services.settings.max_message_bytes} bytes"
        )
    wallet = parse_wallet(fields.raw("user_state"), fields.text("public_key"))
    client_id = fields.text("client_id")
    if s is None:
        caller, s, _ = await create_session(services, request, sid, fields.app, caller)
    if not s.idle_here:
        raise SessionBusy("a turn is already running in this session; wait for it or interrupt it")
    s.update_client_state(wallet.apply(s.wallet), client_id)
    _move_to_app(s, caller)
    await services.runner.start(s, message)
    return json_response(await services.manager.snapshot(s))


@router.get("/state", responses=SNAPSHOT_DOC)
async def state(request: Request, services: ServicesDep) -> Response:
    """The session snapshot. An unknown session gives an empty idle snapshot and creates nothing."""
    sid = session_id_from(request.headers)
    q = request.query_params
    _, s = await session_of(services, request, sid, app_param(request))
    wallet = parse_wallet(q.get("user_state"), None)
    if s is None:
        return json_response(empty_snapshot())
    if s.update_client_state(wallet.apply(s.wallet), q.get("client_id")) and s.idle_here:
        await services.manager.store.save(s)  # else the running turn writes it at its end
    return json_response(await services.manager.snapshot(s))


@router.post("/interrupt", responses=SNAPSHOT_DOC)
async def interrupt(request: Request, services: ServicesDep) -> Response:
    """Cancel the running turn (model call and tools); the partial answer is kept."""
    sid = session_id_from(request.headers)
    _, s = await authorized_session(services, request, sid, app_param(request))
    await services.runner.interrupt(s)
    return json_response(await services.manager.snapshot(s))
