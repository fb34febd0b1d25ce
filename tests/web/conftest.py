"""Browser tests: Playwright drives Debian's Chromium against a real `aomi serve` process (the
e2e server, parametrized on SQLite and PostgreSQL) with an admin token and a keyed App.

Without Chromium the tests are skipped locally and fail under CI. Each test leaves a screenshot in
`.reports/screenshots/<test>.png`."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from tests.support.fixtures import price_api
from tests.support.price_server import FakePriceApi
from tests.support.server_process import ROOT, ServerProcess, running_server, server_env

__all__ = ["price_api"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / ".reports" / "screenshots"
ADMIN_TOKEN = "admin-token-for-browser-tests-0123456789"
KEYED_APP = "pricebook"
KEYED_MANIFEST = f'''name = "{KEYED_APP}"
description = "Pricebook: token prices for key holders"
public = false
preamble = "You quote token prices with the get_token_price tool."
tools = ["get_token_price"]

[models]
default = "offline"
allowed = ["offline"]
'''

CLIENT_ERROR = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d")

expect.set_options(timeout=15_000)


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests need Chromium under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def env(tmp_path: Path, database_url: str, price_api: FakePriceApi) -> dict[str, str]:
    """The e2e server's environment, plus an admin token and the keyed App `pricebook`."""
    env = server_env(tmp_path, database_url, price_api.url)
    app_dir = Path(env["AOMI_APPS_DIR"]) / KEYED_APP
    app_dir.mkdir(parents=True)
    (app_dir / "app.toml").write_text(KEYED_MANIFEST)
    # Nothing to drain at the end: the page (and its event stream) closes before the server stops.
    return {**env, "AOMI_ADMIN_TOKEN": ADMIN_TOKEN, "AOMI_SHUTDOWN_GRACE_SECONDS": "0"}


@pytest.fixture
def spawned_server(env: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    """The test's `aomi serve` process, started but perhaps not answering yet."""
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} is not installed")
    with running_server(env, tmp_path, wait=False) as proc:
        yield proc


@pytest.fixture
def browser(spawned_server: ServerProcess) -> Iterator[Browser]:
    """Chromium for one test, launched while the server starts; ready when the server is.

    Started after the test's database and stopped before it: the sync API keeps an event loop
    marked running in this thread while it is up, and the database fixtures call `asyncio.run`
    (so the browser cannot be session-scoped here)."""
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            _unavailable(f"Chromium did not start: {exc.message.splitlines()[0]}")
        spawned_server.wait_ready()
        yield browser
        browser.close()


@pytest.fixture
def server(spawned_server: ServerProcess, browser: Browser) -> ServerProcess:
    """The test's running server (the e2e server's environment, see `env`)."""
    return spawned_server


def screenshot_path(name: str) -> Path:
    """`.reports/screenshots/<name>.png` (the directory is created)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name).strip('-')}.png"


@pytest.fixture
def context(server: ServerProcess, browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=server.url)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page on the test's server; at the end its screenshot is saved and it must have logged no
    error (a Content-Security-Policy violation, a script error, a failed request)."""
    pg = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A 4xx answer the page shows (a wrong token, a revoked key) is logged by Chromium too.
        if message.type == "error" and not CLIENT_ERROR.match(message.text):
            problems.append(f"console: {message.text}")

    pg.on("console", on_console)
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    yield pg
    pg.screenshot(path=screenshot_path(request.node.name), full_page=True)
    assert not problems, problems
