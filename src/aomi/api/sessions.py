"""Threads (SPEC 4.3): create, list by wallet, get, rename, delete, archive, unarchive."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from aomi.api.auth import SESSION_HEADER, parse_session_id
from aomi.api.deps import (
    ServicesDep,
    SessionId,
    app_param,
    authorized_session,
    json_body,
    request_fields,
    session_or_create,
)
from aomi.api.openapi import (
    ADDRESS,
    APP,
    APP_KEY,
    ERRORS,
    NO_NUL,
    NOT_BLANK,
    SESSION_ID,
    CreatedOut,
    DeletedOut,
    ThreadOut,
    inputs,
    param,
)
from aomi.api.wallet import require_wallet_token
from aomi.chain.addresses import normalize_address
from aomi.errors import InvalidInput, InvalidSessionId
from aomi.sessions.model import Session
from aomi.sessions.user_state import parse_wallet
from aomi.validation import check_text, parse_count

router = APIRouter(prefix="/api/sessions", tags=["sessions"], responses=ERRORS)

NEXT_CURSOR_HEADER = "X-Next-Cursor"
MAX_LIMIT = 500  # also the default: the TypeScript client sends no limit and reads one page


class RenameIn(BaseModel):
    title: str = Field(
        min_length=1,
        max_length=200,
        pattern=NOT_BLANK,
        description="The new title, 1-200 characters; never overwritten by automatic titles.",
    )


class CreateIn(BaseModel):
    public_key: str | None = Field(default=None, pattern=ADDRESS["pattern"], description="Binds this wallet.")
    app: str | None = Field(default=None, pattern=NO_NUL, description="App name; `default` when absent.")


SessionPath = Annotated[
    str, Path(description="The session id (a UUID).", json_schema_extra={"format": "uuid"})
]
THREAD: dict[int | str, dict[str, Any]] = {200: {"model": ThreadOut, "description": "The thread"}}
LIST_INPUTS = inputs(
    param("query", "public_key", ADDRESS, "The wallet whose threads to list.", required=True),
    param(
        "header", "Authorization", {"type": "string"}, "`Bearer <wallet token>` (AOMI_WALLET_PROOF=required)."
    ),
    APP_KEY,
)


async def _thread(request: Request, services: ServicesDep, session_id: SessionPath) -> Session:
    """The path's session, authorized like chat (the path id wins; a differing header is a 400)."""
    sid = parse_session_id(session_id)
    header = request.headers.get(SESSION_HEADER)
    if header is not None and parse_session_id(header) != sid:
        raise InvalidSessionId(f"the path names session {sid} but {SESSION_HEADER} names another")
    _, s = await authorized_session(services, request, sid, app_param(request))
    return s


Thread = Annotated[Session, Depends(_thread)]


# A page cursor is `<updated_ms>.<session id>` of the last thread listed: readable, and exactly
# described by this pattern in the OpenAPI document.
CURSOR = r"^[0-9]{1,18}\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def encode_cursor(updated_ms: int, session_id: str) -> str:
    return f"{updated_ms}.{session_id}"


def decode_cursor(cursor: str) -> tuple[int, str]:
    ms, _, sid = cursor.partition(".")
    return parse_count(ms, "cursor"), sid


@router.post("", response_model=CreatedOut, openapi_extra=inputs(SESSION_ID, APP_KEY, body=CreateIn))
async def create_session(request: Request, services: ServicesDep, sid: SessionId) -> dict[str, Any]:
    """Create the session named by X-Session-Id (idempotent); body `{public_key?, app?}`."""
    fields = await request_fields(request)
    wallet = parse_wallet(None, fields.text("public_key", check=normalize_address))
    _, s, _ = await session_or_create(services, request, sid, fields.app)
    await services.sessions.take_client_state(s, wallet)
    return {"session_id": s.id, "title": s.title}


@router.get("", response_model=list[ThreadOut], openapi_extra=LIST_INPUTS)
async def list_sessions(
    request: Request,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Most threads in one page.")] = MAX_LIMIT,
    cursor: Annotated[
        str | None, Query(pattern=CURSOR, description="The X-Next-Cursor of the previous page.")
    ] = None,
) -> JSONResponse:
    """Threads bound to a wallet, most recently active first, of the Apps this caller may use.

    A further page exists when the response carries an `X-Next-Cursor` header.
    """
    public_key = request.query_params.get("public_key")
    if not public_key:
        raise InvalidInput("public_key is required: the wallet address whose threads to list")
    address = normalize_address(public_key)
    require_wallet_token(request, services, address)
    apps = [app.name for app in await services.auth.usable_apps(request.headers)]
    before = decode_cursor(cursor) if cursor else None
    page = list(await services.sessions.list_by_wallet(address, apps, limit + 1, before))
    headers = {}
    if len(page) > limit:
        page = page[:limit]
        headers[NEXT_CURSOR_HEADER] = encode_cursor(page[-1].updated_ms, page[-1].session_id)
    return JSONResponse([info.to_json() for info in page], headers=headers)


@router.get("/{session_id}", responses=THREAD, openapi_extra=inputs(APP_KEY, APP))
async def get_session(s: Thread) -> dict[str, Any]:
    """One thread: `{session_id, title, is_archived, app, created_at, updated_at}`."""
    return s.info().to_json()


@router.patch(
    "/{session_id}", responses=THREAD, openapi_extra=inputs(APP_KEY, APP, body=RenameIn, required=True)
)
async def rename_session(s: Thread, request: Request, services: ServicesDep) -> dict[str, Any]:
    """Rename a thread (body `{title}`); a manual title is never replaced by an automatic one."""
    body = await json_body(request)
    title = body.get("title")
    if not isinstance(title, str) or not 1 <= len(check_text(title, "title").strip()) <= 200:
        raise InvalidInput("title must be a string of 1 to 200 characters")
    await services.sessions.rename(s, title.strip())
    return s.info().to_json()


@router.delete("/{session_id}", response_model=DeletedOut, openapi_extra=inputs(APP_KEY, APP))
async def delete_session(s: Thread, services: ServicesDep) -> dict[str, bool]:
    """Delete a thread with its messages and events (a running turn is interrupted first)."""
    await services.sessions.delete(s)
    return {"deleted": True}


@router.post("/{session_id}/archive", responses=THREAD, openapi_extra=inputs(APP_KEY, APP))
async def archive_session(s: Thread, services: ServicesDep) -> dict[str, Any]:
    """Archive a thread (a persisted flag; the thread stays listed with `is_archived: true`)."""
    await services.sessions.set_archived(s, True)
    return s.info().to_json()


@router.post("/{session_id}/unarchive", responses=THREAD, openapi_extra=inputs(APP_KEY, APP))
async def unarchive_session(s: Thread, services: ServicesDep) -> dict[str, Any]:
    """Clear a thread's archived flag."""
    await services.sessions.set_archived(s, False)
    return s.info().to_json()
