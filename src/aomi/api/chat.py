"""Chat and state routes (SPEC 4.2): POST /api/chat, GET /api/state, POST /api/interrupt."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from aomi.api.deps import (
    ExistingSession,
    ServicesDep,
    SessionId,
    app_param,
    create_session,
    json_response,
    request_fields,
    session_of,
)
from aomi.api.fastpath import polled
from aomi.api.openapi import (
    ADDRESS,
    APP,
    APP_KEY,
    CLIENT_ID,
    ERRORS,
    NO_NUL,
    NOT_BLANK,
    SESSION_ID,
    USER_STATE,
    SnapshotOut,
    inputs,
    param,
)
from aomi.errors import PayloadTooLarge, SessionBusy
from aomi.sessions.model import empty_snapshot
from aomi.sessions.user_state import parse_wallet
from aomi.validation import check_text

router = APIRouter(prefix="/api", tags=["chat"], responses=ERRORS)

SNAPSHOT: dict[int | str, dict[str, Any]] = {
    200: {"model": SnapshotOut, "description": "The session snapshot"}
}


class ChatIn(BaseModel):
    """The chat fields as a JSON body (the query wins when both name one)."""

    message: str | None = Field(default=None, pattern=NOT_BLANK)
    app: str | None = Field(default=None, pattern=NO_NUL)
    public_key: str | None = Field(default=None, pattern=ADDRESS["pattern"])
    user_state: dict[str, Any] | None = None
    client_id: str | None = Field(default=None, pattern=NO_NUL)


CHAT_INPUTS = inputs(
    SESSION_ID,
    APP_KEY,
    param(
        "query",
        "message",
        {"type": "string", "minLength": 1, "pattern": NOT_BLANK},
        "The user's message.",
        True,
    ),
    APP,
    param("query", "public_key", ADDRESS, "Binds the session to this wallet address."),
    USER_STATE,
    CLIENT_ID,
    body=ChatIn,
)


@router.post("/chat", responses=SNAPSHOT, openapi_extra=CHAT_INPUTS)
async def chat(request: Request, services: ServicesDep, sid: SessionId) -> Response:
    """Send a user message; the turn runs in the background. Creates the session if unknown."""
    fields = await request_fields(request)
    caller, s = await session_of(services, request, sid, fields.app)
    message = fields.message().strip()
    size = len(message.encode())
    if size > services.settings.max_message_bytes:
        raise PayloadTooLarge(
            f"message is {size} bytes; the limit is {services.settings.max_message_bytes} bytes"
        )
    wallet = fields.wallet()
    client_id = fields.text("client_id")
    if s is None:
        caller, s, _ = await create_session(services, request, sid, fields.app, caller)
    if not s.idle_here:
        raise SessionBusy("a turn is already running in this session; wait for it or interrupt it")
    await services.sessions.chat(
        s, caller.app, message, wallet, client_id, key_id=caller.key.id if caller.key else None
    )
    return json_response(await services.sessions.snapshot(s))


@router.get(
    "/state", responses=SNAPSHOT, openapi_extra=inputs(SESSION_ID, APP_KEY, APP, USER_STATE, CLIENT_ID)
)
async def state(request: Request, services: ServicesDep, sid: SessionId) -> Response:
    """The session snapshot. An unknown session gives an empty idle snapshot and creates nothing."""
    q = request.query_params
    _, s = await session_of(services, request, sid, app_param(request))
    wallet = parse_wallet(q.get("user_state"), None)
    if s is None:
        return json_response(empty_snapshot())
    await services.sessions.take_client_state(s, wallet, check_text(q.get("client_id") or "", "client_id"))
    polled(s, q.get("user_state"), q.get("client_id"))  # the same poll may take the fast path next
    return json_response(await services.sessions.snapshot(s))


@router.post("/interrupt", responses=SNAPSHOT, openapi_extra=inputs(SESSION_ID, APP_KEY, APP))
async def interrupt(services: ServicesDep, s: ExistingSession) -> Response:
    """Cancel the running turn (model call and tools); the partial answer is kept."""
    await services.sessions.interrupt(s)
    return json_response(await services.sessions.snapshot(s))
