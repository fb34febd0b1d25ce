"""`aomi usage`: totals per App, key and model, filters, JSON, and one-line errors."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest

from aomi.db.engine import create_engine, upgrade
from aomi.settings import Settings
from aomi.timeutil import now_ms
from aomi.usage import TurnUsage, UsageStore
from tests.cli.conftest import Cli

DAY = 86_400_000


def _seed(settings: Settings, key_id: str) -> None:
    now = now_ms()
    turn = TurnUsage(
        app="mycoindex",
        key_id=key_id,
        session_id=None,
        model_label="gpt",
        provider="openai",
        requests=2,
        input_tokens=1200,
        output_tokens=300,
        tool_calls=1,
        status="idle",
        duration_ms=1500,
        created_ms=now - 60_000,
    )

    async def record() -> None:
        engine = create_engine(settings.resolved_database_url)
        await upgrade(engine)
        store = UsageStore(engine)
        for u in (
            turn,
            replace(turn, status="error", created_ms=now - 2 * DAY),
            replace(
                turn,
                app="default",
                key_id=None,
                model_label="offline",
                provider="builtin",
                created_ms=now - 30 * DAY,
            ),
        ):
            await store.record(u)
        await engine.dispose()

    asyncio.run(record())


def _rows(cli: Cli, *args: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(cli.ok("usage", "--json", *args).stdout)
    return rows


@pytest.mark.usefixtures("mycoindex")
def test_totals_filters_and_table(cli: Cli, settings: Settings) -> None:
    assert "No usage recorded yet." in cli.ok("usage").stdout
    assert _rows(cli) == []
    key = json.loads(cli.ok("keys", "create", "--app", "mycoindex", "--json").stdout)
    _seed(settings, key["id"])

    rows = _rows(cli)
    assert [(r["app"], r["key_id"], r["model_label"], r["turns"], r["errors"]) for r in rows] == [
        ("default", None, "offline", 1, 0),
        ("mycoindex", key["id"], "gpt", 2, 1),
    ]
    assert rows[1] == {
        "app": "mycoindex",
        "key_id": key["id"],
        "model_label": "gpt",
        "provider": "openai",
        "turns": 2,
        "requests": 4,
        "input_tokens": 2400,
        "output_tokens": 600,
        "tool_calls": 2,
        "errors": 1,
        "duration_ms": 3000,
    }
    assert [r["app"] for r in _rows(cli, "--app", "default")] == ["default"]
    for needle in (key["id"], key["prefix"], key["key"]):  # the keys CLI's ways of naming a key
        assert [r["key_id"] for r in _rows(cli, "--key", needle)] == [key["id"]]
    assert [r["turns"] for r in _rows(cli, "--since", "1d")] == [1]
    assert [r["turns"] for r in _rows(cli, "--since", "7d")] == [2]
    assert sum(r["turns"] for r in _rows(cli, "--since", "5w")) == 3
    assert _rows(cli, "--since", "30s") == []
    assert "No usage matches these filters." in cli.ok("usage", "--app", "nope").stdout

    table = cli.ok("usage").stdout
    assert f"{key['id']} ({key['prefix']})" in table
    assert key["key"] not in table
    total = next(line for line in table.splitlines() if "Total" in line)
    assert "3" in total and "3,600" in total and "4.5 s" in total  # turns, input tokens, time


def test_bad_options_are_one_line(cli: Cli) -> None:
    for since in ("7x", "d", "-1d", "1.5h", ""):
        assert cli.fails("usage", "--since", since) == (
            "error: --since: use a number with s, m, h, d or w, e.g. 7d"
        )
    assert cli.fails("usage", "--key", "nosuchkey") == "error: no key matches 'nosuchkey'"
