"""App authoring end to end (issue 10): Python, HTTP and MCP tools and documents, through the
real app on SQLite and PostgreSQL, with secrets that never leave the tool call."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from aomi.agent.models import ModelRegistry, default_model_registry
from aomi.db.tables import metadata
from aomi.settings import Settings
from tests.support.apps import QuotesApi, caller_model, copy_example, mcp_http_server, quotes_api
from tests.support.harness import Harness, new_id, running

API_KEY = "qk-live-7f3a9c2e51d04b88"  # the client's secret for the quotes service
CLIENT = "client-under-test"


def _models() -> ModelRegistry:
    registry = default_model_registry()
    registry.register("caller", caller_model())
    return registry


def _allow_caller(app_dir: Path) -> None:
    manifest = app_dir / "app.toml"
    text = manifest.read_text().replace('allowed = ["offline"]', 'allowed = ["offline", "caller"]')
    manifest.write_text(text)


@pytest.fixture
def quotes() -> Iterator[QuotesApi]:
    with quotes_api() as api:
        yield api


@pytest_asyncio.fixture
async def guide(
    settings: Settings, quotes: QuotesApi, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    """The example defi-guide App, its quotes service on loopback (an operator secret)."""
    _allow_caller(copy_example(settings.apps_dir, "defi-guide"))
    monkeypatch.setenv("AOMI_APP_DEFI_GUIDE_QUOTES_URL", quotes.url)
    async with running(settings, _models()) as harness:
        yield harness


async def _turn(
    h: Harness, sid: str, message: str, *, app: str, model: str = "caller", **params: str
) -> dict[str, Any]:
    r = await h.client.post(
        "/api/control/model", params={"rig": model, "app": app}, headers={"X-Session-Id": sid}
    )
    assert r.status_code == 200, r.text
    r = await h.chat(sid, message, app=app, **params)
    assert r.status_code == 200, r.text
    return await h.wait_idle(sid, app=app, timeout=30)


def _answer(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


async def _database_text(h: Harness) -> str:
    """Every row of every table, as text: a plaintext secret anywhere in the database shows here."""
    rows: list[str] = []
    async with h.services.engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows += [repr(tuple(r)) for r in await conn.execute(select(table))]
    return "\n".join(rows)


async def test_http_tool_sends_the_secret_which_appears_nowhere_else(
    guide: Harness, quotes: QuotesApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    r = await guide.client.post(
        "/api/secrets", json={"client_id": CLIENT, "secrets": {"QUOTES_API_KEY": API_KEY}}
    )
    assert r.json() == {"handles": {"QUOTES_API_KEY": "$SECRET:QUOTES_API_KEY"}}
    sid = new_id()
    body = await _turn(
        guide, sid, 'call get_quote {"symbol": "ETH", "currency": "EUR"}', app="defi-guide", client_id=CLIENT
    )
    # The service got the secret in its header, and the argument in the query.
    assert quotes.requests, body["messages"]
    path, headers = quotes.requests[-1]
    assert path == "/v1/quote/ETH?currency=EUR"
    assert headers["X-Api-Key"] == API_KEY
    assert _answer(body) == "Result: success: 3456.78"  # `select = "quote"`
    # A service that echoes the key back in an error: the model and the user see it redacted.
    body = await _turn(guide, sid, 'call get_quote {"symbol": "DOGE"}', app="defi-guide", client_id=CLIENT)
    assert quotes.requests[-1][1]["X-Api-Key"] == API_KEY
    assert "no quote for DOGE" in _answer(body) and "[secret QUOTES_API_KEY]" in _answer(body)
    # Messages, events (session_events, model history and every other table), logs, errors.
    stored = await _database_text(guide)
    assert "turn_finished" in stored and "no quote for DOGE" in stored
    for where, text in [("snapshot", json.dumps(body)), ("logs", caplog.text), ("database", stored)]:
        assert API_KEY not in text, where
        assert quotes.url not in text, where  # an operator secret: the service's address


async def test_http_tool_errors_are_clear_and_redacted(guide: Harness, quotes: QuotesApi) -> None:
    await guide.client.post(
        "/api/secrets", json={"client_id": CLIENT, "secrets": {"QUOTES_API_KEY": API_KEY}}
    )
    sid = new_id()
    body = await _turn(guide, sid, 'call get_quote {"symbol": "DOGE"}', app="defi-guide", client_id=CLIENT)
    answer = _answer(body)
    assert answer.startswith("Result: failed:")
    assert "get_quote: the service answered 404 Not Found" in answer
    body = await _turn(guide, sid, 'call get_quote {"currency": "EUR"}', app="defi-guide", client_id=CLIENT)
    assert "missing required argument(s): symbol" in _answer(body)
    body = await _turn(guide, sid, 'call get_quote {"symbol": 5}', app="defi-guide", client_id=CLIENT)
    assert "argument 'symbol' must be of JSON type string" in _answer(body)


async def test_missing_client_secret_names_the_slot(guide: Harness) -> None:
    sid = new_id()
    body = await _turn(guide, sid, 'call get_quote {"symbol": "ETH"}', app="defi-guide", client_id="nobody")
    answer = _answer(body)
    assert "the secret QUOTES_API_KEY is not set" in answer
    assert "POST /api/secrets" in answer and "AOMI_APP_DEFI_GUIDE_QUOTES_API_KEY" in answer


async def test_python_tool_gets_the_session_context(guide: Harness) -> None:
    sid = new_id()
    body = await _turn(
        guide,
        sid,
        'call estimate_gas_cost {"gas_units": 21000, "gas_price_gwei": 20}',
        app="defi-guide",
        user_state=json.dumps(
            {"address": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "chain_id": 8453, "is_connected": True}
        ),
    )
    assert _answer(body) == "Result: success: 21000 gas at 20.0 gwei costs 0.00042 ETH on chain 8453"
    body = await _turn(
        guide, sid, 'call estimate_gas_cost {"gas_units": -1, "gas_price_gwei": 1}', app="defi-guide"
    )
    assert "the tool estimate_gas_cost failed: ValueError: gas_units must be positive" in _answer(body)
    assert body["is_processing"] is False and body["status"] == "idle"


async def test_document_question_is_answered_with_the_right_chunk_cited(guide: Harness) -> None:
    sid = new_id()
    body = await _turn(guide, sid, "How long does unstaking take?", app="defi-guide", model="offline")
    answer = _answer(body)
    assert answer.startswith("According to docs/staking.md: Staking > Unstaking:")
    assert "withdrawal delay of about 27 hours" in answer
    body = await _turn(guide, sid, "What is the priority fee?", app="defi-guide", model="offline")
    assert _answer(body).startswith("According to docs/fees.md: Fees > Base fee and priority fee:")


async def test_mcp_tool_result_reaches_the_conversation_over_http(settings: Settings) -> None:
    with mcp_http_server() as url:
        app_dir = settings.apps_dir / "facts-http"
        app_dir.mkdir()
        (app_dir / "app.toml").write_text(
            'name = "facts-http"\npublic = true\npreamble = "Facts."\n'
            f'[[mcp_servers]]\nname = "facts"\nurl = "{url}"\nallow = ["typical_gas"]\nprefix = "chain"\n'
            '[models]\ndefault = "caller"\nallowed = ["caller"]\n'
        )
        async with running(settings, _models()) as h:
            sid = new_id()
            r = await h.chat(sid, "which tools?", app="facts-http")
            assert r.status_code == 200
            body = await h.wait_idle(sid, app="facts-http", timeout=30)
            assert _answer(body) == "Tools: chain_typical_gas"  # the allow-list and the prefix
            await h.chat(sid, 'call chain_typical_gas {"action": "swap"}', app="facts-http")
            body = await h.wait_idle(sid, app="facts-http", timeout=30)
            assert _answer(body) == "Result: success: 150000"
            await h.chat(sid, 'call chain_typical_gas {"action": "fly"}', app="facts-http")
            body = await h.wait_idle(sid, app="facts-http", timeout=30)
            assert "unknown action 'fly'" in _answer(body)


def _mcp_children() -> list[int]:
    """This process's child processes that run the example MCP server."""
    pids = [int(p) for f in Path("/proc/self/task").glob("*/children") for p in f.read_text().split()]
    found = []
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"mcp_server.py" in cmdline:
            found.append(pid)
    return found


async def test_mcp_example_over_stdio(settings: Settings) -> None:
    _allow_caller(copy_example(settings.apps_dir, "chain-facts"))
    async with running(settings, _models()) as h:
        sid = new_id()
        body = await _turn(h, sid, "which tools?", app="chain-facts")
        assert _answer(body) == "Tools: block_time, typical_gas"  # reset_stats is not allowed
        body = await _turn(h, sid, 'call block_time {"chain": "base"}', app="chain-facts")
        assert _answer(body) == "Result: success: 2.0"
        body = await _turn(h, new_id(), 'call typical_gas {"action": "transfer"}', app="chain-facts")
        assert _answer(body) == "Result: success: 21000"
        assert len(_mcp_children()) == 1  # one server process, kept across turns and sessions
        body = await _turn(h, sid, "call reset_stats {}", app="chain-facts")
        # Not offered, so not callable: the model hears that it does not exist.
        assert body["status"] == "idle"
        assert "Unknown tool name: 'reset_stats'" in _answer(body)
    assert _mcp_children() == []  # stopped with the server


async def test_unreachable_mcp_server_ends_the_turn_with_a_clear_error(settings: Settings) -> None:
    app_dir = settings.apps_dir / "facts-down"
    app_dir.mkdir()
    (app_dir / "app.toml").write_text(
        'name = "facts-down"\npublic = true\npreamble = "Facts."\n'
        '[[mcp_servers]]\nname = "facts"\nurl = "http://127.0.0.1:9/mcp"\ntimeout_seconds = 5\n'
        '[models]\ndefault = "caller"\nallowed = ["caller"]\n'
    )
    async with running(settings, _models()) as h:
        sid = new_id()
        await h.chat(sid, "which tools?", app="facts-down")
        body = await h.wait_idle(sid, app="facts-down", timeout=30)
        assert body["status"] == "error"
        errors = [e for e in body["system_events"] if "SystemError" in json.dumps(e)]
        assert any("the MCP server 'facts' is unavailable" in json.dumps(e) for e in errors), body


def _twin(apps_dir: Path, name: str, answer: str, doc: str, *, public: bool = True) -> None:
    """An App with a Python tool `lookup`, a secret slot TOKEN and one document."""
    app_dir = apps_dir / name
    (app_dir / "docs").mkdir(parents=True)
    (app_dir / "tools.py").write_text(
        "from aomi.tools.context import ToolContext\n\n\n"
        "async def lookup(ctx: ToolContext) -> str:\n"
        '    """Who answers, and the App\'s TOKEN."""\n'
        f'    return "{answer}: " + (await ctx.deps.secret("TOKEN"))[::-1]\n\n\n'
        "async def peek(ctx: ToolContext, name: str) -> str:\n"
        '    """Read any secret by name."""\n'
        "    return await ctx.deps.secret(name)\n"
    )
    (app_dir / "docs" / "notes.md").write_text(f"# Notes\n\n{doc}\n")
    (app_dir / "app.toml").write_text(
        f'name = "{name}"\npublic = {str(public).lower()}\npreamble = "Twin."\n'
        'python_tools = ["tools:lookup", "tools:peek"]\ndocuments = ["docs/*.md"]\n'
        '[[secrets]]\nname = "TOKEN"\nsource = "operator"\n'
        '[models]\ndefault = "caller"\nallowed = ["caller", "offline"]\n'
    )


async def test_apps_are_isolated_with_the_same_tool_names(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _twin(settings.apps_dir, "alpha", "alpha", "The alpha vault unlocks on Mondays.", public=False)
    _twin(settings.apps_dir, "beta", "beta", "The beta bridge settles in ten minutes.", public=False)
    (settings.apps_dir / "beta" / "app.toml").write_text(
        (settings.apps_dir / "beta" / "app.toml")
        .read_text()
        .replace('name = "TOKEN"', 'name = "OTHER"')
        .replace(
            'python_tools = ["tools:lookup", "tools:peek"]', 'python_tools = ["tools:peek", "tools:lookup"]'
        )
    )
    monkeypatch.setenv("AOMI_APP_ALPHA_TOKEN", "alpha-token-secret")
    monkeypatch.setenv("AOMI_APP_BETA_OTHER", "beta-other-secret")
    async with running(settings, _models()) as h:
        a, b = new_id(), new_id()
        ka, kb = await h.issue_key("alpha"), await h.issue_key("beta")
        await h.chat(a, "call lookup {}", app="alpha", key=ka)
        assert (
            _answer(await h.wait_idle(a, app="alpha", key=ka, timeout=30))
            == "Result: success: alpha: " + "alpha-token-secret"[::-1]
        )
        # beta's `lookup` is its own module, and beta declares no TOKEN: alpha's is out of reach.
        await h.chat(b, "call lookup {}", app="beta", key=kb)
        answer = _answer(await h.wait_idle(b, app="beta", key=kb, timeout=30))
        assert "the App 'beta' declares no secret 'TOKEN'" in answer
        await h.chat(b, 'call peek {"name": "OTHER"}', app="beta", key=kb)
        # beta's own secret value comes back redacted: a tool result never carries a secret.
        assert (
            _answer(await h.wait_idle(b, app="beta", key=kb, timeout=30)) == "Result: success: [secret OTHER]"
        )
        # Documents: each App searches its own only.
        await h.chat(b, 'call search_docs {"query": "alpha vault Mondays"}', app="beta", key=kb)
        answer = _answer(await h.wait_idle(b, app="beta", key=kb, timeout=30))
        assert "No passage of this App's documents matches" in answer
        await h.chat(a, 'call search_docs {"query": "alpha vault Mondays"}', app="alpha", key=ka)
        assert "[1] docs/notes.md: Notes\nThe alpha vault unlocks on Mondays." in _answer(
            await h.wait_idle(a, app="alpha", key=ka, timeout=30)
        )
        # Sessions: beta's key reaches none of alpha's, by either App name.
        for app in ("beta", "alpha"):
            r = await h.state(a, app=app, key=kb)
            assert r.status_code == 403, r.text
