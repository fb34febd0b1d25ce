"""`aomi models list`, and a malformed `AOMI_MODELS` stopping start-up in one line."""

from __future__ import annotations

import json

import pytest

from aomi.settings import Settings
from tests.cli.conftest import Cli

MODELS = "sonnet=anthropic:claude-sonnet-4-5,gpt=openai:gpt-4o,local=openai-compatible:llama3.2@http://127.0.0.1:9/v1"


def test_models_list_shows_availability(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AOMI_MODELS", MODELS)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-real")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    rows = json.loads(cli.ok("models", "list", "--json").stdout)
    assert rows == [
        {"label": "offline", "provider": "builtin", "model": "offline", "server_key": True},
        {
            "label": "sonnet",
            "provider": "anthropic",
            "model": "anthropic:claude-sonnet-4-5",
            "server_key": True,
        },
        {"label": "gpt", "provider": "openai", "model": "openai:gpt-4o", "server_key": False},
        {
            "label": "local",
            "provider": "openai-compatible",
            "model": "openai-compatible:llama3.2@http://127.0.0.1:9/v1",
            "server_key": True,
        },
    ]
    table = cli.ok("models", "list").stdout
    assert "only with a client's own key" in table and "sk-ant" not in table


def test_a_malformed_entry_stops_every_command_in_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AOMI_MODELS", "gpt=openai")
    for command in (("models", "list"), ("apps", "list"), ("serve",)):
        line = cli.fails(*command)
        assert line.startswith("error: AOMI_MODELS entry 'gpt=openai': missing 'provider:' before the model")


def test_apps_may_name_configured_models(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    app_dir = settings.apps_dir / "claude"
    app_dir.mkdir(parents=True)
    (app_dir / "app.toml").write_text(
        'name = "claude"\npreamble = "x"\n[models]\ndefault = "sonnet"\nallowed = ["sonnet", "offline"]\n'
    )
    monkeypatch.setenv("AOMI_MODELS", "sonnet=anthropic:claude-sonnet-4-5")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    apps = {a["name"]: a for a in json.loads(cli.ok("apps", "list", "--json").stdout)}
    # No server key: new sessions start on offline; sonnet stays allowed for clients with their own key.
    assert (apps["claude"]["default_model"], apps["claude"]["allowed_models"]) == (
        "offline",
        ["offline", "sonnet"],
    )
