"""Typed responses of the Aomi HTTP API. Every model accepts extra fields, so a newer server
that adds one does not break an older client."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Message(ApiModel):
    id: str
    sender: str
    """`user`, `agent` or `system`."""
    content: str = ""
    tool_result: list[str] | None = None
    """`[topic, result]` for a tool call the agent made, else None."""
    timestamp: str = ""
    is_streaming: bool = False

    @property
    def is_tool_call(self) -> bool:
        return self.tool_result is not None


class Snapshot(ApiModel):
    """A session as chat, state and interrupt return it."""

    messages: list[Message] = Field(default_factory=list)
    system_events: list[dict[str, Any]] = Field(default_factory=list)
    """Undelivered InlineCall / SystemError events, externally tagged (`{"InlineCall": {...}}`)."""
    title: str | None = None
    is_processing: bool = False
    status: str = "idle"
    user_state: dict[str, Any] | None = None


class SystemResult(ApiModel):
    res: Message


class Thread(ApiModel):
    session_id: str
    title: str | None = None
    is_archived: bool = False
    app: str = "default"
    created_at: str = ""
    updated_at: str = ""


class ThreadPage(ApiModel):
    """One page of a wallet's threads; ``next_cursor`` fetches the next page (None: the last)."""

    threads: list[Thread]
    next_cursor: str | None = None


class CreatedThread(ApiModel):
    session_id: str
    title: str | None = None


class Deleted(ApiModel):
    deleted: bool


class Cleared(ApiModel):
    cleared: bool


class ModelSet(ApiModel):
    success: bool
    rig: str
    baml: str = ""
    created: bool = False


class SecretSlot(ApiModel):
    name: str
    description: str = ""
    required: bool = False


class AppDetail(ApiModel):
    name: str
    description: str = ""
    models: list[str] = Field(default_factory=list)
    secrets: list[SecretSlot] = Field(default_factory=list)


class ProviderKey(ApiModel):
    provider: str
    key_prefix: str
    label: str | None = None
    is_active: bool = True


class ProviderKeys(ApiModel):
    provider_keys: list[ProviderKey]


class SavedProviderKey(ApiModel):
    key: ProviderKey


class SecretHandles(ApiModel):
    handles: dict[str, str]
    """`{NAME: "$SECRET:NAME"}` for every secret stored."""


class Nonce(ApiModel):
    nonce: str


class WalletToken(ApiModel):
    token: str
    address: str
    expires_at: str


class SimulationStep(ApiModel):
    step: int
    label: str
    success: bool
    result: str | None = None
    revert_reason: str | None = None
    gas_used: int | None = None
    tx: dict[str, Any] = Field(default_factory=dict)


class Simulation(ApiModel):
    batch_success: bool
    stateful: bool
    from_: str = Field(alias="from")
    network: str | None = None
    total_gas: int
    steps: list[SimulationStep]


class SimulationResult(ApiModel):
    result: Simulation


class Transaction(ApiModel):
    """One transaction of a simulated batch (`value` in wei)."""

    to: str
    value: str | int | None = None
    data: str | None = None
    label: str | None = None
    chain_id: int | str | None = None


class Update(ApiModel):
    """One server-sent event of `/api/updates`: ``id`` is its sequence number in the session's log,
    ``type`` and ``session_id`` are always present, the rest is in ``data``."""

    id: str | None = None
    type: str
    session_id: str
    data: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def parse(cls, event_id: str | None, text: str) -> Update:
        data = json.loads(text)
        if not isinstance(data, dict):
            data = {"type": "unknown", "session_id": "", "payload": data}
        return cls(
            id=event_id or None,
            type=str(data.get("type", "unknown")),
            session_id=str(data.get("session_id", "")),
            data=data,
        )


class ToolCall(ApiModel):
    """A tool call the agent made, as the session's messages show it."""

    message_id: str
    topic: str
    result: str


class WalletRequest(ApiModel):
    """A wallet hand-off the turn waits for: ``kind`` is `wallet_tx_request` or
    `wallet_eip712_request`; ``request_id`` the pending id to answer with."""

    kind: str
    request_id: int
    payload: dict[str, Any]

    @property
    def is_transaction(self) -> bool:
        return self.kind == "wallet_tx_request"

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> WalletRequest | None:
        """The wallet request in a SystemEvent (`{"InlineCall": {type, payload}}`), or None."""
        call = event.get("InlineCall")
        if not isinstance(call, dict) or call.get("type") not in WALLET_REQUEST_KINDS:
            return None
        payload = call.get("payload") if isinstance(call.get("payload"), dict) else {}
        assert isinstance(payload, dict)
        ids = payload.get("tx_ids") or [payload.get("pending_eip712_id")]
        first = ids[0] if isinstance(ids, list) and ids else None
        if not isinstance(first, int | str) or not str(first).isdigit():
            return None
        return cls(kind=str(call["type"]), request_id=int(first), payload=payload)


WALLET_REQUEST_KINDS = ("wallet_tx_request", "wallet_eip712_request")
