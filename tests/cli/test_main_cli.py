import json
import sys
from pathlib import Path

import pytest

import aomi.server
from aomi.cli.main import main
from aomi.db.engine import head_revision
from aomi.settings import Settings
from tests.cli.conftest import Cli


@pytest.mark.usefixtures("mycoindex")
def test_apps_list_json(cli: Cli) -> None:
    apps = json.loads(cli.ok("apps", "list", "--json").stdout)
    assert [a["name"] for a in apps] == ["default", "mycoindex"]
    mycoindex = apps[1]
    assert mycoindex == {
        "name": "mycoindex",
        "description": "Coin index assistant",
        "public": False,
        "default_model": "offline",
        "allowed_models": ["offline"],
        "tools": ["get_token_price"],
    }
    assert apps[0]["public"] is True


@pytest.mark.usefixtures("mycoindex")
def test_apps_list_table(cli: Cli) -> None:
    out = cli.ok("apps", "list").stdout
    assert "mycoindex" in out
    assert "Coin index assistant" in out
    assert "key required" in out


def test_apps_list_broken_manifest(cli: Cli, mycoindex: Path) -> None:
    (mycoindex / "app.toml").write_text("name = [broken")
    line = cli.fails("apps", "list")
    assert "invalid TOML" in line


def test_db_upgrade_prints_revision(cli: Cli, settings: Settings) -> None:
    out = cli.ok("db", "upgrade").stdout
    assert f"revision {head_revision()}" in out
    assert "postgres@" in out or "sqlite" in out


def test_db_upgrade_hides_password(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AOMI_DATABASE_URL", "postgresql+asyncpg://u:hunter2@127.0.0.1:9/none")
    line = cli.fails("db", "upgrade")
    assert "hunter2" not in line


def test_serve_applies_overrides(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Settings] = []
    monkeypatch.setattr(aomi.server, "serve", seen.append)
    monkeypatch.setenv("AOMI_HOST", "0.0.0.0")
    cli.ok("serve", "--port", "9123")
    assert [(s.host, s.port) for s in seen] == [("0.0.0.0", 9123)]
    cli.ok("serve", "--host", "127.0.0.2")
    assert (seen[-1].host, seen[-1].port) == ("127.0.0.2", 8080)


def test_serve_rejects_bad_port(cli: Cli) -> None:
    assert cli.fails("serve", "--port", "70000").startswith("error: invalid setting AOMI_PORT:")


def test_serve_refuses_a_short_admin_token(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AOMI_ADMIN_TOKEN", "admin")
    line = cli.fails("serve")
    assert line.startswith("error: invalid setting AOMI_ADMIN_TOKEN:") and "at least 24" in line, line


def test_main_turns_unexpected_errors_into_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(_settings: Settings) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(aomi.server, "serve", broken)
    monkeypatch.setattr(sys, "argv", ["aomi", "serve"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 1
    assert capsys.readouterr().err == "error: unexpected RuntimeError: boom\n"
