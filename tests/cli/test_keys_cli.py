import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from aomi.keys.generate import GENERATED_KEY_RE
from tests.cli.conftest import Cli


def _list(cli: Cli) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(cli.ok("keys", "list", "--json").stdout)
    return rows


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.mark.usefixtures("mycoindex")
def test_create_prints_the_key_once_with_a_warning(cli: Cli) -> None:
    result = cli.ok("keys", "create", "--app", "mycoindex", "--label", "prod", "--slug", "mcd")
    keys = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("sk-")]
    assert len(keys) == 1
    assert GENERATED_KEY_RE.fullmatch(keys[0])
    assert keys[0].startswith("sk-mcd-")
    assert "will not be shown again" in result.stdout
    [row] = _list(cli)
    assert row["prefix"] == keys[0][:11]
    assert row["apps"] == ["mycoindex"]
    assert row["label"] == "prod"
    assert row["status"] == "active"
    assert keys[0] not in json.dumps(row)


@pytest.mark.usefixtures("mycoindex")
def test_create_json_is_one_object(cli: Cli) -> None:
    result = cli.ok(
        "keys", "create", "--app", "mycoindex", "--app", "default", "--expires-in", "2h", "--json"
    )
    out = json.loads(result.stdout)
    assert set(out) == {
        *("id", "key", "prefix", "apps", "label", "status"),
        *("created_at", "expires_at", "last_used_at", "revoked_at"),
    }
    assert out["key"].startswith("sk-myc-")
    assert out["key"].startswith(out["prefix"])
    assert out["apps"] == ["default", "mycoindex"]
    assert out["label"] is None
    assert abs(_ms(out["expires_at"]) - _ms(out["created_at"]) - 2 * 3_600_000) < 60_000
    assert [row["id"] for row in _list(cli)] == [out["id"]]


def test_import_and_duplicate_import(cli: Cli) -> None:
    key = "legacy_live_0123456789abcdefghij"
    out = json.loads(cli.ok("keys", "create", "--app", "default", "--import", key, "--json").stdout)
    assert out["key"] == key
    assert out["prefix"] == "legacy_l"
    assert cli.fails("keys", "create", "--app", "default", "--import", key) == (
        "error: this key is already registered"
    )
    assert cli.fails("keys", "create", "--app", "default", "--import", "short") == (
        "error: an imported key must be 20 to 256 characters long (got 5)"
    )


def test_list_table_and_empty_list(cli: Cli) -> None:
    assert "No App keys yet" in cli.ok("keys", "list").stdout
    assert _list(cli) == []
    created = json.loads(cli.ok("keys", "create", "--app", "default", "--label", "[b]x[/b]", "--json").stdout)
    table = cli.ok("keys", "list").stdout
    assert created["id"] in table
    assert created["prefix"] in table
    assert "[b]x[/b]" in table  # labels are shown as typed, not read as markup
    assert "active" in table
    assert created["key"] not in table


def test_list_json_has_no_secret_fields(cli: Cli) -> None:
    created = json.loads(cli.ok("keys", "create", "--app", "default", "--json").stdout)
    out = cli.ok("keys", "list", "--json").stdout
    [row] = json.loads(out)
    assert set(row) == {
        "id",
        "prefix",
        "label",
        "apps",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "status",
    }
    assert created["key"] not in out
    assert created["key"][len(created["prefix"]) :][:8] not in out
    assert not re.search(r"[0-9a-f]{64}", out)  # no hash either


def test_revoke_by_prefix_then_again(cli: Cli) -> None:
    created = json.loads(cli.ok("keys", "create", "--app", "default", "--json").stdout)
    other = json.loads(cli.ok("keys", "create", "--app", "default", "--slug", "other", "--json").stdout)
    result = cli.ok("keys", "revoke", created["prefix"])
    assert f"Revoked key {created['id']}" in result.stdout
    status = {row["id"]: row["status"] for row in _list(cli)}
    assert status == {created["id"]: "revoked", other["id"]: "active"}
    assert "already revoked" in cli.ok("keys", "revoke", created["id"]).stdout


def test_revoke_unknown_and_ambiguous(cli: Cli) -> None:
    assert cli.fails("keys", "revoke", "sk-xx") == "error: no key matches 'sk-xx'"
    cli.ok("keys", "create", "--app", "default", "--slug", "dup")
    cli.ok("keys", "create", "--app", "default", "--slug", "dup")
    assert "matches 2 keys" in cli.fails("keys", "revoke", "sk-dup-")


@pytest.mark.parametrize("value", ["5x", "30", "d", "0d", "-1d", "1.5h", "9999999w", "1000000000m"])
def test_bad_expires_in(cli: Cli, value: str) -> None:
    line = cli.fails("keys", "create", "--app", "default", "--expires-in", value)
    assert line.startswith(f"error: invalid --expires-in {value!r}")
    assert _list(cli) == []


@pytest.mark.parametrize(
    ("value", "ms"), [("90m", 90 * 60_000), ("1w", 7 * 86_400_000), ("30d", 30 * 86_400_000)]
)
def test_expires_in_units(cli: Cli, value: str, ms: int) -> None:
    out = json.loads(cli.ok("keys", "create", "--app", "default", "--expires-in", value, "--json").stdout)
    assert abs(_ms(out["expires_at"]) - _ms(out["created_at"]) - ms) < 60_000


def test_unknown_app(cli: Cli, tmp_path: Path) -> None:
    line = cli.fails("keys", "create", "--app", "default", "--app", "nope")
    assert line.startswith("error: unknown App 'nope' (known: default;")
    assert _list(cli) == []


def test_bad_slug(cli: Cli) -> None:
    assert cli.fails("keys", "create", "--app", "default", "--slug", "Bad1").startswith(
        "error: invalid key slug 'Bad1'"
    )


def test_broken_manifest_is_one_line(cli: Cli, mycoindex: Path) -> None:
    (mycoindex / "app.toml").write_text('name = "mycoindex"\npreamble = "x"\ncolour = "red"\n')
    line = cli.fails("keys", "create", "--app", "mycoindex")
    assert "app.toml" in line
    assert "colour" in line


def test_invalid_setting_is_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AOMI_PORT", "not-a-port")
    assert cli.fails("keys", "list").startswith("error: invalid setting AOMI_PORT:")


def test_unreachable_database_is_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AOMI_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:9/none")
    assert cli.fails("keys", "list").startswith("error: cannot connect to the database:")


def test_keys_commands_work_on_a_fresh_database(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AOMI_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    cli.ok("keys", "create", "--app", "default")
    assert len(_list(cli)) == 1


def test_rotate_issues_a_twin_and_sets_the_old_keys_deadline(cli: Cli) -> None:
    created = json.loads(
        cli.ok("keys", "create", "--app", "default", "--label", "ci", "--slug", "ci", "--json").stdout
    )
    result = cli.ok("keys", "rotate", created["prefix"], "--grace", "2h")
    assert f"Rotated key {created['id']} ({created['prefix']}): it keeps working until" in result.stdout
    new_key = next(line.strip() for line in result.stdout.splitlines() if line.strip().startswith("sk-ci-"))
    rows = {row["id"]: row for row in _list(cli)}
    assert len(rows) == 2 and new_key not in json.dumps(rows)
    old = rows[created["id"]]
    assert abs(_ms(old["expires_at"]) - _ms(old["created_at"]) - 2 * 3_600_000) < 60_000
    assert old["status"] == "active"
    [twin] = [row for row in rows.values() if row["id"] != created["id"]]
    assert twin["apps"] == ["default"] and twin["label"] == "ci" and twin["expires_at"] is None
    assert new_key.startswith(twin["prefix"])

    out = json.loads(cli.ok("keys", "rotate", twin["id"], "--grace", "0s", "--json").stdout)
    assert out["old"]["id"] == twin["id"] and out["old"]["status"] == "expired"
    assert out["key"].startswith("sk-ci-") and out["status"] == "active"
    assert "has expired" in cli.fails("keys", "rotate", twin["id"])
    assert "invalid --grace 'soon'" in cli.fails("keys", "rotate", out["id"], "--grace", "soon")
    assert cli.fails("keys", "rotate", "sk-zz") == "error: no key matches 'sk-zz'"
