"""`aomi chat` in a pseudo-terminal (pexpect) against a real `aomi serve`, SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
import uuid

import pexpect
import pytest
from typer.testing import CliRunner

from aomi.cli.main import app as cli_app
from tests.client.conftest import WALLET, app_key
from tests.e2e.conftest import AOMI, ServerProcess, env, server
from tests.support.fixtures import price_api
from tests.support.serving import free_port

__all__ = ["app_key", "env", "price_api", "server"]

pytestmark = pytest.mark.e2e

PROMPT = "you> "
BURN = "0x000000000000000000000000000000000000dEaD"


def spawn(*args: str) -> pexpect.spawn[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AOMI_")}
    child = pexpect.spawn(
        AOMI,
        ["chat", *args],
        env={**environ, "NO_COLOR": "1", "TERM": "dumb"},
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 250),
    )
    return child


def ask(child: pexpect.spawn[str], line: str, *expected: str) -> None:
    """Send a line and expect each text in order, then the next prompt."""
    child.sendline(line)
    for text in expected:
        child.expect_exact(text)
    child.expect_exact(PROMPT)


def test_chat_session_in_a_terminal(server: ServerProcess, app_key: str) -> None:
    sid = str(uuid.uuid4())
    child = spawn("--url", server.url, "--key", app_key, "--session", sid, "--wallet", WALLET)
    child.expect_exact(f"app default, wallet {WALLET}, session {sid}")
    child.expect_exact(PROMPT)
    ask(
        child,
        "What is the price of ETH?",
        "tool get_token_price(symbol=ETH) -> ",
        "aomi> ETH price: $3,456.78",
    )
    ask(
        child,
        f"send 0.1 ETH to {BURN}",
        "tool send_transaction_to_wallet(",
        f"wallet request 1: transaction to {BURN}, value 100000000000000000 wei, chain 1",
        "waiting for the wallet (pending request 1)",
    )
    ask(child, "/reject", "aomi> The wallet request did not go through")
    ask(child, "/threads", f"threads of {WALLET}:", f"* {sid}  ")
    ask(child, "/model", "models: offline")
    ask(child, "/model offline", "model set to offline")
    ask(child, "/model gpt-nope", "error: model 'gpt-nope' is not available")
    ask(child, "/app", "apps: default *, mycoindex")
    child.sendline("/app mycoindex")
    child.expect(r"new session ([0-9a-f-]{36}) \(app mycoindex\)")
    assert isinstance(child.match, re.Match)
    keyed = child.match.group(1)
    child.expect_exact(PROMPT)
    ask(child, "price of BTC", "tool get_token_price(symbol=BTC)", "$97,123.5")
    ask(child, "/new", "new session ")
    ask(child, "/threads", f"{sid}  ")
    assert keyed != sid
    ask(child, "/frobnicate", "error: unknown command /frobnicate")
    child.sendline("/quit")
    child.expect_exact("bye")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "Traceback" not in (child.before or "")
    in_process(server.url, app_key)


def in_process(url: str, key: str) -> None:
    """The same commands through Typer's runner, in this process (line coverage sees them)."""
    lines = [
        f"send 0.1 ETH to {BURN}",
        "/reject",
        "/reject",
        "/threads",
        "/model",
        "/app",
        "/app nope",
        "/help",
        "/new",
    ]
    result = CliRunner().invoke(
        cli_app, ["chat", "--url", url, "--key", key, "--wallet", WALLET], input="\n".join(lines) + "\n"
    )
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "wallet request 1: transaction to" in result.stdout
    assert "The wallet request did not go through" in result.stdout
    assert (
        f"threads of {WALLET}:" in result.stdout
        and "models: offline" in result.stdout
        and "apps: default *, mycoindex" in result.stdout
    )
    assert "new session " in result.stdout and result.stdout.rstrip().endswith("bye")
    assert result.stderr.splitlines() == [
        "error: no wallet request is pending",
        "error: the App 'nope' is not available here (apps: default, mycoindex); a keyed App needs --key",
    ]


def test_an_unreachable_server_is_one_error_line() -> None:
    child = spawn("--url", f"http://127.0.0.1:{free_port()}")
    child.expect(pexpect.EOF)
    child.close()
    output = (child.before or "").strip()
    assert re.fullmatch(r"error: cannot reach the Aomi server at http://127\.0\.0\.1:\d+: .+", output), output
    assert child.exitstatus == 1
    result = CliRunner().invoke(cli_app, ["chat", "--url", f"http://127.0.0.1:{free_port()}"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: cannot reach the Aomi server") and result.stderr.count("\n") == 1
