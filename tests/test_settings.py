from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from aomi.settings import SECRET_FILE_NAME, Settings


def test_database_url_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'aomi.db'}"
    assert (
        Settings(database_url="postgresql+asyncpg://x/y").resolved_database_url == "postgresql+asyncpg://x/y"
    )


def test_secret_is_generated_once_kept_and_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="aomi.settings"):
        first = Settings(data_dir=tmp_path / "data").resolved_secret_key
    assert "AOMI_SECRET_KEY is not set" in caplog.text
    path = tmp_path / "data" / SECRET_FILE_NAME
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(first) >= 48
    assert Settings(data_dir=tmp_path / "data").resolved_secret_key == first


def test_configured_secret_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configured = "c" * 32
    assert Settings(data_dir=tmp_path, secret_key=SecretStr(configured)).resolved_secret_key == b"c" * 32
    monkeypatch.setenv("AOMI_SECRET_KEY", "from-env-" + "e" * 32)
    monkeypatch.setenv("AOMI_PORT", "9000")
    s = Settings(data_dir=tmp_path)
    assert (s.resolved_secret_key, s.port) == (b"from-env-" + b"e" * 32, 9000)
    assert not (tmp_path / SECRET_FILE_NAME).exists()


def test_a_short_admin_token_is_refused_and_an_empty_one_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AOMI_ADMIN_TOKEN", "hunter2")
    with pytest.raises(
        ValidationError, match="7 characters is too short for the admin token; use at least 24"
    ):
        Settings()
    monkeypatch.setenv("AOMI_ADMIN_TOKEN", "")
    assert Settings().admin_token is None
    monkeypatch.setenv("AOMI_ADMIN_TOKEN", "a" * 24)
    token = Settings().admin_token
    assert token is not None and token.get_secret_value() == "a" * 24
