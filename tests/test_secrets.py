"""Secrets on disk and in logs: the secret file, the SQLite file and access-log lines."""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from pydantic import SecretStr

import aomi.logs
import aomi.server
from aomi.db.engine import create_engine, upgrade
from aomi.errors import SecretKeyError
from aomi.logs import ACCESS_LOGGER, StripQueryString, install_access_log_filter
from aomi.settings import SECRET_FILE_NAME, Settings
from tests.cli.conftest import Cli
from tests.conftest import TEST_SECRET


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _no_secret_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env from the working directory
    monkeypatch.delenv("AOMI_SECRET_KEY", raising=False)


@pytest.fixture
def access_logger() -> Iterator[logging.Logger]:
    """uvicorn's access logger, its filters restored afterwards."""
    logger = logging.getLogger(ACCESS_LOGGER)
    before = list(logger.filters)
    yield logger
    logger.filters[:] = before


def test_generated_secret_file_is_private_and_reused(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path / "data").resolved_secret_key
    path = tmp_path / "data" / SECRET_FILE_NAME
    assert _mode(path) == 0o600
    assert path.read_bytes().strip() == first
    assert Settings(data_dir=tmp_path / "data").resolved_secret_key == first
    assert [p.name for p in path.parent.iterdir()] == [SECRET_FILE_NAME]  # no temporary file left


def test_secret_file_open_to_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / SECRET_FILE_NAME
    path.write_text("s" * 48 + "\n")
    path.chmod(0o644)
    with pytest.raises(SecretKeyError) as info:
        _ = Settings(data_dir=tmp_path).resolved_secret_key
    assert str(path) in str(info.value)
    assert f"chmod 600 {path}" in str(info.value)
    path.chmod(0o600)
    assert Settings(data_dir=tmp_path).resolved_secret_key == b"s" * 48


def test_short_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / SECRET_FILE_NAME
    path.write_text("s" * 31 + "\n")
    path.chmod(0o600)
    with pytest.raises(SecretKeyError, match="at least 32 bytes") as info:
        _ = Settings(data_dir=tmp_path).resolved_secret_key
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [("k" * 31, False), ("k" * 32, True), ("é" * 15 + "k", False), ("é" * 16, True)],
)
def test_configured_secret_needs_32_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, accepted: bool
) -> None:
    monkeypatch.setenv("AOMI_SECRET_KEY", value)
    settings = Settings(data_dir=tmp_path)
    if accepted:
        assert settings.resolved_secret_key == value.encode()
        return
    with pytest.raises(SecretKeyError, match="AOMI_SECRET_KEY is 31 bytes long") as info:
        _ = settings.resolved_secret_key
    assert value not in str(info.value)
    assert not (tmp_path / SECRET_FILE_NAME).exists()


def test_concurrent_first_starts_share_one_secret(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    found: list[bytes] = []
    errors: list[BaseException] = []

    def start() -> None:
        settings = Settings(data_dir=data_dir)
        barrier.wait()
        try:
            found.append(settings.resolved_secret_key)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(found) == threads_count
    assert len(set(found)) == 1
    assert (data_dir / SECRET_FILE_NAME).read_bytes().strip() == found[0]
    assert [p.name for p in data_dir.iterdir()] == [SECRET_FILE_NAME]


def test_a_start_that_loses_the_race_uses_the_winners_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Threads hardly race here (and on Python 3.11 cached_property serializes them), so another
    # process installing its file between our check and our link is simulated instead.
    path = tmp_path / SECRET_FILE_NAME
    winner = b"w" * 48
    real_link = os.link

    def link_after_the_winner(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, winner + b"\n")
        os.close(fd)
        real_link(src, dst)

    monkeypatch.setattr(os, "link", link_after_the_winner)
    with caplog.at_level(logging.WARNING, logger="aomi.settings"):
        assert Settings(data_dir=tmp_path).resolved_secret_key == winner
    assert "generated a secret" not in caplog.text  # only the winner says so
    assert path.read_bytes() == winner + b"\n"
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_FILE_NAME]


async def test_new_sqlite_database_is_private(tmp_path: Path) -> None:
    path = tmp_path / "new-dir" / "aomi.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(engine)
        assert _mode(path) == 0o600
        wal = path.with_name("aomi.db-wal")
        if wal.exists():  # SQLite gives it the database file's mode
            assert _mode(wal) == 0o600
    finally:
        await engine.dispose()


async def test_relative_sqlite_url_and_existing_files(tmp_path: Path) -> None:
    existing = tmp_path / "old.db"
    existing.touch()
    existing.chmod(0o640)
    for url in ("sqlite+aiosqlite:///rel/aomi.db", f"sqlite+aiosqlite:///{existing}"):
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
    assert _mode(tmp_path / "rel" / "aomi.db") == 0o600  # relative to the working directory
    assert _mode(existing) == 0o640  # left alone
    memory = create_engine("sqlite+aiosqlite:///:memory:")
    await memory.dispose()
    assert not (tmp_path / ":memory:").exists()


def _access_record(path: str) -> logging.LogRecord:
    args = ("127.0.0.1:5", "GET", path, "1.1", 200)
    return logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )


def test_access_log_filter_strips_the_query_string() -> None:
    record = _access_record("/api/state?user_state=secret&message=hello")
    assert StripQueryString().filter(record) is True
    assert record.getMessage() == '127.0.0.1:5 - "GET /api/state HTTP/1.1" 200'
    plain = _access_record("/health")
    assert StripQueryString().filter(plain) is True
    assert plain.getMessage() == '127.0.0.1:5 - "GET /health HTTP/1.1" 200'


def test_install_access_log_filter_is_idempotent(access_logger: logging.Logger) -> None:
    install_access_log_filter()
    install_access_log_filter()
    assert sum(isinstance(f, StripQueryString) for f in access_logger.filters) == 1
    record = _access_record("/api/chat?message=secret")
    assert access_logger.filter(record)
    assert "secret" not in record.getMessage()


def test_serve_installs_the_access_log_filter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, access_logger: logging.Logger
) -> None:
    ran: list[uvicorn.Config] = []
    logging_set_up: list[tuple[str, str]] = []
    monkeypatch.setattr(aomi.server._GracefulServer, "run", lambda server: ran.append(server.config))
    monkeypatch.setattr(
        aomi.logs, "configure_logging", lambda level, fmt: logging_set_up.append((level, fmt))
    )
    access_logger.filters[:] = [f for f in access_logger.filters if not isinstance(f, StripQueryString)]
    settings = Settings(data_dir=tmp_path, apps_dir=tmp_path, secret_key=SecretStr(TEST_SECRET))
    aomi.server.serve(settings)
    assert len(ran) == 1
    assert (ran[0].timeout_keep_alive, ran[0].timeout_graceful_shutdown, ran[0].log_config) == (75, 10, None)
    assert logging_set_up == [("info", "text")]
    assert any(isinstance(f, StripQueryString) for f in access_logger.filters)


@pytest.mark.parametrize("problem", ["world-readable file", "short key"])
def test_serve_with_a_bad_secret_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, problem: str
) -> None:
    def no_server(*_args: object, **_kwargs: object) -> None:
        pytest.fail("uvicorn started despite a bad secret")

    monkeypatch.setattr(aomi.server._GracefulServer, "run", no_server)
    monkeypatch.setattr(aomi.logs, "configure_logging", lambda level, fmt: None)
    monkeypatch.setenv("AOMI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AOMI_APPS_DIR", str(tmp_path))
    monkeypatch.setenv("AOMI_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'aomi.db'}")
    path = tmp_path / SECRET_FILE_NAME
    if problem == "short key":
        monkeypatch.setenv("AOMI_SECRET_KEY", "too-short")
        expected = "AOMI_SECRET_KEY is 9 bytes long"
    else:
        path.write_text("s" * 48 + "\n")
        path.chmod(0o644)
        expected = f"chmod 600 {path}"
    line = Cli().fails("serve")
    assert expected in line
