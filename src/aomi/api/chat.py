"""Chat and state routes (SPEC 4.2): POST /api/chat, GET /api/state, POST /api/interrupt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from aomi.api.auth import Caller, session_id_from
from aomi.api.deps import ServicesDep, json_body, json_response
from aomi.errors import InvalidInput, PayloadTooLarge, SessionBusy
from aomi.sessions.model import Session, empty_snapshot
from aomi.sessions.user_state import UserState, bind_public_key, parse_user_state

router = APIRouter(prefix="/api", tags=["chat"])

SNAPSHOT_DOC: dict[int | str, dict[str, Any]] = {
    200: {"description": "The session snapshot: messages, system_events, title, status, user_state"}
}


@dataclass
class ChatInputs:
    message: str | None
    app: str | None
    public_key: str | None
    user_state: str | dict[str, Any] | None
    client_id: str | None


def _text(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidInput(f"{name} must be a string")


async def read_chat_inputs(request: Request) -> ChatInputs:
    """Fields from the query string, or from a JSON body (the query wins when both name one)."""
    q = request.query_params
    body = await json_body(request) if request.headers.get("content-length", "0") != "0" else {}

    def pick(*names: str) -> Any:
        for source in (q, body):
            for name in names:
                if source.get(name) is not None:
                    return source.get(name)
        return None

    user_state = pick("user_state")
    if user_state is not None and not isinstance(user_state, str | dict):
        raise InvalidInput("user_state must be a JSON object")
    return ChatInputs(
        message=_text(pick("message"), "message"),
        app=_text(pick("app", "namespace"), "app"),
        public_key=_text(pick("public_key"), "public_key"),
        user_state=user_state,
        client_id=_text(pick("client_id"), "client_id"),
    )


def wallet_update(current: UserState | None, inputs: ChatInputs) -> UserState | None:
    """The session's new user_state, validated before anything is stored (400 on bad input)."""
    state = current
    if inputs.user_state is not None:
        state = parse_user_state(inputs.user_state) or state
    if inputs.public_key:
        state = bind_public_key(state, inputs.public_key)
    return state


def _apply_client_state(s: Session, state: UserState | None, client_id: str | None) -> bool:
    changed = False
    if state != s.user_state:
        s.user_state, changed = state, True
    if client_id and client_id != s.client_id:
        s.client_id, changed = client_id[:200], True
    if changed:
        s.changed()
    return changed


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
    inputs = await read_chat_inputs(request)
    caller = await services.auth.authorize(inputs.app, request.headers)
    message = (inputs.message or "").strip()
    if not message:
        raise InvalidInput("message is required and must not be empty")
    size = len(message.encode())
    if size > services.settings.max_message_bytes:
        raise PayloadTooLarge(
            f"message is {size} bytes; the limit is {services.settings.max_message_bytes} bytes"
        )
    state_input = wallet_update(None, inputs) if inputs.user_state or inputs.public_key else None
    s, _created = await services.manager.get_or_create(sid, caller.app.name, caller.app.default_model)
    services.auth.check_session(caller, s)
    if s.is_processing or s.task is not None:
        raise SessionBusy("a turn is already running in this session; wait for it or interrupt it")
    if state_input is not None:
        _apply_client_state(s, wallet_update(s.user_state, inputs), inputs.client_id)
    elif inputs.client_id:
        _apply_client_state(s, s.user_state, inputs.client_id)
    _move_to_app(s, caller)
    await services.runner.start(s, message)
    return json_response(await services.manager.snapshot(s))


@router.get("/state", responses=SNAPSHOT_DOC)
async def state(request: Request, services: ServicesDep) -> Response:
    """The session snapshot. An unknown session gives an empty idle snapshot and creates nothing."""
    sid = session_id_from(request.headers)
    q = request.query_params
    caller = await services.auth.authorize(q.get("app") or q.get("namespace"), request.headers)
    inputs = ChatInputs(None, None, None, q.get("user_state"), q.get("client_id"))
    new_state = wallet_update(None, inputs) if inputs.user_state else None
    s = await services.manager.get(sid)
    if s is None:
        return json_response(empty_snapshot())
    services.auth.check_session(caller, s)
    target = wallet_update(s.user_state, inputs) if new_state is not None else s.user_state
    if _apply_client_state(s, target, inputs.client_id) and s.task is None and not s.is_processing:
        await services.manager.store.save(s)
    return json_response(await services.manager.snapshot(s))


@router.post("/interrupt", responses=SNAPSHOT_DOC)
async def interrupt(request: Request, services: ServicesDep) -> Response:
    """Cancel the running turn (model call and tools); the partial answer is kept."""
    sid = session_id_from(request.headers)
    q = request.query_params
    caller = await services.auth.authorize(q.get("app") or q.get("namespace"), request.headers)
    s = await services.manager.require(sid)
    services.auth.check_session(caller, s)
    await services.runner.interrupt(s)
    return json_response(await services.manager.snapshot(s))
