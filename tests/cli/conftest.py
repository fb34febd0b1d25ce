from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import aomi.logs
from aomi.cli.main import app
from aomi.settings import Settings
from tests.conftest import TEST_SECRET


class Cli:
    """Runs `aomi ...` in-process against the test database."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(app, list(args))

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    def fails(self, *args: str) -> str:
        """The one stderr line of a failed command."""
        result = self(*args)
        assert result.exit_code in (1, 2), (result.stdout, result.stderr, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: ")
        assert "Traceback" not in result.output
        return lines[0]


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    monkeypatch.chdir(tmp_path)  # no stray .env from the working directory
    # `aomi serve` sets up the process's logging first thing; in-process that would outlive the
    # command (a handler on this invocation's captured stderr, the root logger at INFO).
    monkeypatch.setattr(aomi.logs, "configure_logging", lambda *_args, **_kwargs: None)
    monkeypatch.setenv("AOMI_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AOMI_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("AOMI_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("AOMI_APPS_DIR", str(settings.apps_dir))
    monkeypatch.setenv("COLUMNS", "250")  # Rich tables: no wrapped cells
    return Cli()


@pytest.fixture
def mycoindex(settings: Settings) -> Path:
    """A keyed App named `mycoindex` in the apps directory."""
    app_dir = settings.apps_dir / "mycoindex"
    app_dir.mkdir()
    (app_dir / "app.toml").write_text(
        'name = "mycoindex"\n'
        'description = "Coin index assistant"\n'
        'preamble = "You answer questions about coins."\n'
        'tools = ["get_token_price"]\n'
    )
    return app_dir
