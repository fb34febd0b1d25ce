"""`aomi serve` logs: JSON lines from every library, ids on request lines, no start-up chatter."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import ServerProcess


def test_json_logs_of_a_real_server(env: dict[str, str], tmp_path: Path) -> None:
    server = ServerProcess(
        {**env, "AOMI_LOG_LEVEL": "info", "AOMI_LOG_FORMAT": "json"}, int(env["AOMI_PORT"]), tmp_path / "log"
    )
    server.start()
    sid = str(uuid.uuid4())
    try:
        r = httpx.get(f"{server.url}/api/state", headers={"X-Session-Id": sid, "X-Request-Id": "e2e-1"})
        assert r.status_code == 200 and r.headers["x-request-id"] == "e2e-1"
    finally:
        server.stop()
    lines: list[dict[str, Any]] = [
        json.loads(line) for line in server.log.read_text().splitlines() if line.strip()
    ]
    loggers = [x["logger"] for x in lines]
    assert not any(name.startswith("alembic") for name in loggers), loggers  # no plugin set-up lines
    events = [x["event"] for x in lines]
    if env["AOMI_DATABASE_URL"].startswith("sqlite"):  # a new file; the PostgreSQL template is migrated
        assert "database schema migrated from empty to 0007" in events
    assert not any("color_message" in x for x in lines)  # uvicorn's terminal-colour copy is dropped
    assert any(e.startswith("Uvicorn running on") for e in events)  # uvicorn's own lines, as JSON too
    access = [x for x in lines if x["logger"] == "uvicorn.access" and "/api/state" in x["event"]]
    assert len(access) == 1
    assert access[0]["request_id"] == "e2e-1" and access[0]["session_id"] == sid
    assert len(lines) <= 12, events  # start-up and shutdown say little
