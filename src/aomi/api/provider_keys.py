"""BYOK routes (SPEC 4.5): a session's client lists, saves and deletes its own LLM provider keys.

The public client (`listProviderKeys`, `saveProviderKey`, `deleteProviderKey`) sends only
`X-Session-Id` here, never an App key: on an existing session the session id is the credential
(SPEC 3 step 7). The keys belong to the session's `client_id` (`session:<id>` without one), so
every session of one client shares them. A session not created yet is answered as the request
names its App (the public `default` without `app`) and is not created: its keys wait under
`session:<id>`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from aomi.agent.specs import PROVIDER_NAMES
from aomi.api.deps import ServicesDep, SessionId, app_param, json_body, session_of
from aomi.api.openapi import APP, APP_KEY, ERRORS, NO_NUL, SESSION_ID, DeletedOut, inputs
from aomi.byok import API_KEY_MAX, API_KEY_PATTERN, LABEL_MAX, owner_of
from aomi.errors import InvalidInput
from aomi.services import Services
from aomi.sessions.model import session_owner

router = APIRouter(prefix="/api/control/provider-keys", tags=["control"], responses=ERRORS)

PROVIDER_DOC = "The LLM provider: " + ", ".join(f"`{p}`" for p in PROVIDER_NAMES) + "."


class ProviderKeyOut(BaseModel):
    provider: str
    key_prefix: str = Field(description="The key's first characters (at most 7), to recognize it by.")
    label: str | None
    is_active: bool = Field(description="The key is usable (false: it no longer decrypts; save it again).")


class ProviderKeysOut(BaseModel):
    provider_keys: list[ProviderKeyOut]


class SavedKeyOut(BaseModel):
    key: ProviderKeyOut


class SaveKeyIn(BaseModel):
    provider: str = Field(description=PROVIDER_DOC, json_schema_extra={"enum": list(PROVIDER_NAMES)})
    api_key: str = Field(
        max_length=API_KEY_MAX,
        pattern=API_KEY_PATTERN,
        description="The provider API key: printable ASCII; surrounding blanks are trimmed. Never returned.",
    )
    label: str | None = Field(
        default=None, max_length=LABEL_MAX, pattern=NO_NUL, description="Free text; blank means none."
    )


ProviderPath = Annotated[
    str, Path(description=PROVIDER_DOC, json_schema_extra={"enum": list(PROVIDER_NAMES)})
]


async def _owner(request: Request, services: Services, sid: str) -> str:
    """The owner of the session's keys, the caller authorized for the session (SPEC 3)."""
    _, s = await session_of(services, request, sid, app_param(request))
    return owner_of(s) if s is not None else session_owner(sid)


def _text(body: dict[str, Any], name: str, required: bool) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidInput(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string")
    return value


@router.get("", response_model=ProviderKeysOut, openapi_extra=inputs(SESSION_ID, APP_KEY, APP))
async def list_provider_keys(request: Request, services: ServicesDep, sid: SessionId) -> dict[str, Any]:
    """The provider keys of the session's client: `{provider_keys: [{provider, key_prefix, label,
    is_active}]}`, by provider. Never the keys themselves."""
    owner = await _owner(request, services, sid)
    return {"provider_keys": [entry.to_json() for entry in await services.provider_keys.list(owner)]}


@router.post(
    "",
    response_model=SavedKeyOut,
    openapi_extra=inputs(SESSION_ID, APP_KEY, APP, body=SaveKeyIn, required=True),
)
async def save_provider_key(request: Request, services: ServicesDep, sid: SessionId) -> dict[str, Any]:
    """Save the client's key for a provider, replacing its previous one: body `{provider, api_key,
    label?}` → `{key: entry}`. Stored encrypted; used for that provider's models in the client's turns."""
    body = await json_body(request)
    provider = _text(body, "provider", required=True) or ""
    api_key = _text(body, "api_key", required=True) or ""
    label = _text(body, "label", required=False)
    owner = await _owner(request, services, sid)
    entry = await services.provider_keys.save(owner, provider, api_key, label)
    return {"key": entry.to_json()}


@router.delete("/{provider}", response_model=DeletedOut, openapi_extra=inputs(SESSION_ID, APP_KEY, APP))
async def delete_provider_key(
    request: Request, services: ServicesDep, sid: SessionId, provider: ProviderPath
) -> dict[str, bool]:
    """Delete the client's key for a provider → `{deleted: true}`, or `{deleted: false}` when it
    had none (200 either way; the public client reads the flag)."""
    owner = await _owner(request, services, sid)
    return {"deleted": await services.provider_keys.delete(owner, provider)}
