"""The admin API (SPEC 4.6): `/admin/api/...` behind `Authorization: Bearer <AOMI_ADMIN_TOKEN>`.

Off (404) when no admin token is configured; an App key is never accepted here. The token is
checked before anything else is read. Routes parse and call `AdminService`."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import pydantic_core
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError

from aomi.admin import AdminService, app_json
from aomi.api.auth import bearer_matches, parse_session_id
from aomi.api.deps import ServicesDep, json_body
from aomi.api.openapi import ErrorBody, inputs
from aomi.api.sessions import CURSOR, decode_cursor, encode_cursor
from aomi.errors import AdminDisabled, AdminTokenInvalid, InvalidInput
from aomi.keys.store import IssuedKey
from aomi.services import Services
from aomi.sessions.listing import SessionQuery
from aomi.timeutil import iso_ms, now_ms, parse_duration_ms, parse_iso_ms

HOUR_MS, DAY_MS = 3_600_000, 86_400_000
# What the OpenAPI document promises the parsers take (`timeutil`), so a fuzzer's valid input is
# valid here: ISO-8601 times (years 1000-2999; February 29 is left out, as a pattern cannot tell
# leap years), and durations of at most 9 digits (zero only for a grace period).
_DATE = r"[12][0-9]{3}-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"
_ZONE = r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
_CLOCK = rf"(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{{1,6}})?)?{_ZONE}?)?"
ISO_TIME = f"^{_DATE}{_CLOCK}$"
LIFETIME = r"^0{0,4}[1-9][0-9]{0,3}[smhdw]$"
GRACE = r"^[0-9]{1,4}[smhdw]$"
BUCKETS = {"hour": HOUR_MS, "day": DAY_MS}
DEFAULT_USAGE_RANGE_MS = 7 * DAY_MS
MAX_PAGE = 200


async def _require_admin(request: Request) -> None:
    services: Services = request.app.state.services
    token = services.settings.admin_token
    if token is None:
        raise AdminDisabled("not found")
    if not bearer_matches(request.headers, token):
        raise AdminTokenInvalid("the admin API needs Authorization: Bearer <AOMI_ADMIN_TOKEN>")


_ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "Invalid input (`invalid_input`, `invalid_session_id`)",
        401: "No admin token, or the wrong one (`admin_token_invalid`)",
        404: "No admin token is configured (the admin API is off), or no such App, key or session",
    }.items()
}

router = APIRouter(
    prefix="/admin/api", tags=["admin"], responses=_ADMIN_ERRORS, dependencies=[Depends(_require_admin)]
)


def _admin(services: Services) -> AdminService:
    return AdminService(services.apps, services.keys, services.verifier, services.sessions, services.usage)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        pydantic_core.to_json(data), status_code=status, media_type="application/json", headers=headers
    )


M = TypeVar("M", bound=BaseModel)


async def _body(request: Request, model: type[M]) -> M:
    try:
        return model.model_validate(await json_body(request))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the body"
        raise InvalidInput(f"{where}: {first['msg']}") from None


def _expiry(body: KeyIn | ExpiryIn) -> int | None:
    if {"expires_at", "expires_in"} <= body.model_fields_set:
        raise InvalidInput("give expires_at or expires_in, not both")
    if body.expires_in is not None:
        return now_ms() + parse_duration_ms(body.expires_in, "expires_in")
    return parse_iso_ms(body.expires_at, "expires_at") if body.expires_at is not None else None


def _issued(issued: IssuedKey) -> dict[str, Any]:
    return {**issued.record.to_json(now_ms()), "key": issued.key}


# -- Apps -------------------------------------------------------------------------------------


@router.get("/apps")
async def list_apps(services: ServicesDep) -> Response:
    """Every App this server loaded: name, models, keyed or public, tools, documents, secret slots."""
    return _json({"apps": [app_json(app) for app in _admin(services).list_apps()]})


@router.get("/apps/{name}")
async def show_app(services: ServicesDep, name: Annotated[str, Path(max_length=64)]) -> Response:
    """One App."""
    return _json(app_json(_admin(services).app(name)))


# -- Keys -------------------------------------------------------------------------------------

KeyRef = Annotated[
    str, Path(min_length=1, max_length=256, description="Key id, a unique start of it, or prefix.")
]


class KeyIn(BaseModel):
    model_config = {
        "extra": "forbid",
        "json_schema_extra": {"not": {"required": ["expires_at", "expires_in"]}},
    }
    apps: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=64, description="Apps the key may use."
    )
    label: str | None = Field(default=None, max_length=200, description="Free text to recognize it by.")
    expires_in: str | None = Field(default=None, pattern=LIFETIME, description="Lifetime such as `30d`.")
    expires_at: str | None = Field(default=None, pattern=ISO_TIME, description="ISO-8601 expiry time.")


class ExpiryIn(BaseModel):
    """Exactly one of the two."""

    model_config = {"extra": "forbid", "json_schema_extra": {"minProperties": 1, "maxProperties": 1}}
    expires_in: str | None = Field(default=None, pattern=LIFETIME, description="From now, such as `1h`.")
    expires_at: str | None = Field(default=None, pattern=ISO_TIME, description="ISO-8601; null: no expiry.")


class RotateIn(BaseModel):
    model_config = {"extra": "forbid"}
    grace: str = Field(default="24h", pattern=GRACE, description="How long the old key keeps working.")


@router.get("/keys")
async def list_keys(services: ServicesDep) -> Response:
    """Every App key, newest first (never the keys themselves)."""
    now = now_ms()
    return _json({"keys": [r.to_json(now) for r in await _admin(services).list_keys()]})


@router.post("/keys", status_code=201, openapi_extra=inputs(body=KeyIn, required=True))
async def issue_key(request: Request, services: ServicesDep) -> Response:
    """Issue a key; the answer holds it (`key`) this once."""
    body = await _body(request, KeyIn)
    issued = await _admin(services).issue_key(body.apps, body.label, _expiry(body))
    return _json(_issued(issued), 201)


@router.get("/keys/{key_id}")
async def show_key(services: ServicesDep, key_id: KeyRef) -> Response:
    """One key."""
    return _json((await _admin(services).key(key_id)).to_json(now_ms()))


@router.patch("/keys/{key_id}", openapi_extra=inputs(body=ExpiryIn, required=True))
async def set_key_expiry(request: Request, services: ServicesDep, key_id: KeyRef) -> Response:
    """Set a key's expiry (`expires_at`, or `expires_in` from now); `expires_at: null` clears it."""
    body = await _body(request, ExpiryIn)
    if not body.model_fields_set:
        raise InvalidInput("give expires_at (null clears the expiry) or expires_in")
    record = await _admin(services).set_key_expiry(key_id, _expiry(body))
    return _json(record.to_json(now_ms()))


@router.post("/keys/{key_id}/revoke")
async def revoke_key(services: ServicesDep, key_id: KeyRef) -> Response:
    """Revoke a key at once (again: no change)."""
    return _json((await _admin(services).revoke_key(key_id)).to_json(now_ms()))


@router.post("/keys/{key_id}/rotate", status_code=201, openapi_extra=inputs(body=RotateIn))
async def rotate_key(request: Request, services: ServicesDep, key_id: KeyRef) -> Response:
    """A new key for the same Apps, label and expiry (shown this once); the old one (`old`) keeps
    working until the grace deadline."""
    body = await _body(request, RotateIn)
    grace_ms = parse_duration_ms(body.grace, "grace", allow_zero=True)
    issued, old = await _admin(services).rotate_key(key_id, grace_ms)
    return _json({**_issued(issued), "old": old.to_json(now_ms())}, 201)


# -- Sessions ---------------------------------------------------------------------------------

SessionRef = Annotated[
    str, Path(description="The session id (a UUID).", json_schema_extra={"format": "uuid"})
]


@router.get("/sessions")
async def list_sessions(
    services: ServicesDep,
    app: Annotated[str | None, Query(max_length=64, description="Only this App's sessions.")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="A part of the title or wallet, or the id's start.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Most sessions in one page.")] = 50,
    before: Annotated[str | None, Query(pattern=CURSOR, description="`next` of the previous page.")] = None,
) -> Response:
    """Every session, most recently active first; `next` is the cursor of the next page, or null."""
    query = SessionQuery(
        limit + 1, decode_cursor(before) if before else None, apps=[app] if app else None, text=q
    )
    page = await _admin(services).search_sessions(query)
    cursor = (
        encode_cursor(page[limit - 1].updated_ms, page[limit - 1].session_id) if len(page) > limit else None
    )
    return _json({"sessions": [s.admin_json() for s in page[:limit]], "next": cursor})


@router.get("/sessions/{session_id}")
async def show_session(services: ServicesDep, session_id: SessionRef) -> Response:
    """A session and its messages (reading it delivers nothing the user's client waits for)."""
    detail = await _admin(services).session(parse_session_id(session_id))
    return _json({"session": detail.summary.admin_json(), "messages": detail.messages})


@router.get("/sessions/{session_id}/export")
async def export_session(services: ServicesDep, session_id: SessionRef) -> Response:
    """The session, its messages and its event log as a JSON download."""
    sid = parse_session_id(session_id)
    data = await _admin(services).export_session(sid)
    return _json(data, headers={"content-disposition": f'attachment; filename="session-{sid}.json"'})


@router.delete("/sessions/{session_id}", status_code=204)
async def delete_session(services: ServicesDep, session_id: SessionRef) -> Response:
    """Delete a session (a running turn is interrupted first); its usage rows stay."""
    await _admin(services).delete_session(parse_session_id(session_id))
    return Response(status_code=204)


# -- Usage ------------------------------------------------------------------------------------


@router.get("/usage")
async def usage(
    services: ServicesDep,
    since: Annotated[
        str | None, Query(pattern=ISO_TIME, description="ISO-8601; default: 7 days before `until`.")
    ] = None,
    until: Annotated[str | None, Query(pattern=ISO_TIME, description="ISO-8601; default: now.")] = None,
    bucket: Annotated[
        str | None, Query(pattern="^(hour|day)$", description="`hour` or `day`; default: hour up to 2 days.")
    ] = None,
    app: Annotated[str | None, Query(max_length=64, description="Only this App.")] = None,
    key: Annotated[str | None, Query(max_length=256, description="Only this key (id or prefix).")] = None,
) -> Response:
    """Usage (turns, model requests, tokens, tool calls, errors) per App, key and model over the
    range, and over time in buckets."""
    until_ms = parse_iso_ms(until, "until") if until else now_ms()
    since_ms = parse_iso_ms(since, "since") if since else until_ms - DEFAULT_USAGE_RANGE_MS
    chosen = bucket or ("hour" if until_ms - since_ms <= 2 * DAY_MS else "day")
    key_id = (await _admin(services).key(key)).id if key else None
    result = await _admin(services).usage_over(since_ms, until_ms, BUCKETS[chosen], app, key_id)
    return _json(
        {
            "since": iso_ms(since_ms),
            "until": iso_ms(until_ms),
            "bucket": chosen,
            "totals": [t.to_json() for t in result.totals],
            "series": [b.to_json() for b in result.series],
        }
    )
