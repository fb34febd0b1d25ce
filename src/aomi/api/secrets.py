"""Client secrets routes (SPEC 4.5): `POST /api/secrets`, `DELETE /api/secrets`,
`DELETE /api/secrets/{name}`, as the public client's `ingestSecrets`, `clearSecrets` and
`deleteSecret` call them: with neither a session id nor an App key, the `client_id` being the
credential (SPEC 3)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field, StringConstraints

from aomi.api.deps import ServicesDep, json_body
from aomi.api.openapi import ERRORS, NO_NUL, NOT_BLANK, DeletedOut, inputs
from aomi.secrets import CLIENT_ID_MAX, NAME_PATTERN, SECRETS_MAX, VALUE_MAX

router = APIRouter(prefix="/api/secrets", tags=["secrets"], responses=ERRORS)

ClientIdQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=CLIENT_ID_MAX,
        pattern=NOT_BLANK,
        description="The client's id: the credential.",
    ),
]
SecretName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
SecretValue = Annotated[str, StringConstraints(min_length=1, max_length=VALUE_MAX, pattern=NO_NUL)]


class SecretsIn(BaseModel):
    client_id: str = Field(
        min_length=1, max_length=CLIENT_ID_MAX, pattern=NOT_BLANK, description="The client's own stable id."
    )
    secrets: dict[SecretName, SecretValue] = Field(
        min_length=1,
        max_length=SECRETS_MAX,
        description=f"`{{NAME: value}}`, at most {SECRETS_MAX}. Never returned.",
        json_schema_extra={"additionalProperties": False},
    )


class HandlesOut(BaseModel):
    handles: dict[str, str] = Field(description='`{NAME: "$SECRET:NAME"}` for every secret stored.')


class ClearedOut(BaseModel):
    cleared: bool


@router.post("", response_model=HandlesOut, openapi_extra=inputs(body=SecretsIn, required=True))
async def ingest_secrets(request: Request, services: ServicesDep) -> dict[str, Any]:
    """Store the client's secrets (replacing ones of the same name), encrypted, until
    `AOMI_CLIENT_SECRET_SECONDS` pass → `{handles: {NAME: "$SECRET:NAME"}}`."""
    body = await json_body(request)
    return {"handles": await services.secrets.ingest(body.get("client_id"), body.get("secrets"))}


@router.delete("", response_model=ClearedOut)
async def clear_secrets(services: ServicesDep, client_id: ClientIdQuery) -> dict[str, bool]:
    """Delete every secret of the client → `{cleared: true}`."""
    await services.secrets.clear(client_id)
    return {"cleared": True}


@router.delete("/{name}", response_model=DeletedOut)
async def delete_secret(
    services: ServicesDep,
    name: Annotated[str, Path(pattern=NAME_PATTERN, description="The secret's name.")],
    client_id: ClientIdQuery,
) -> dict[str, bool]:
    """Delete one secret of the client → `{deleted: true}`, or `{deleted: false}` when it had none."""
    return {"deleted": await services.secrets.delete(client_id, name)}
