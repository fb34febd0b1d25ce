"""PLACEHOLDER until the usage store lands (being written now): the record shape only."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TurnUsage:
    app: str
    key_id: str | None
    session_id: str | None
    model_label: str
    provider: str
    requests: int
    input_tokens: int
    output_tokens: int
    tool_calls: int
    status: str
    duration_ms: int
    created_ms: int
