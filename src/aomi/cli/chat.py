"""`aomi chat`: a terminal chat with an Aomi server, on the Python SDK (`aomi.client`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from aomi.cli.common import fail
from aomi.client import (
    AomiClient,
    AomiClientError,
    Session,
    ToolCall,
    TurnResult,
    WalletRequest,
    rejection,
)
from aomi.client.transport import DEFAULT_URL
from aomi.client.turn import TurnHandlers

HELP = (
    "commands: /new (new session), /threads (this wallet's threads), /model [name], /app [name], "
    "/reject (refuse the pending wallet request), /help, /quit"
)
PROMPT = "you> "
SHORT = 100


def _short(text: str, limit: int = SHORT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _error(message: str) -> None:
    typer.echo(f"error: {' '.join(message.split())}", err=True)


class ChatShell:
    """The read-send-print loop and its slash commands."""

    def __init__(self, client: AomiClient, console: Console, app: str, wallet: str | None) -> None:
        self.client, self.console, self.app, self.wallet = client, console, app, wallet
        self.session: Session = client.session(app=app, wallet=wallet)
        self.pending: list[WalletRequest] = []
        self.mid_line = False
        self.handlers: TurnHandlers = {
            "on_text": self.on_text,
            "on_tool": self.on_tool,
            "on_wallet_request": self.on_wallet_request,
        }

    def say(self, text: str, style: str | None = None) -> None:
        self.end_line()
        self.console.print(Text(text, style=style or ""), soft_wrap=True)

    def end_line(self) -> None:
        if self.mid_line:
            self.console.print()
            self.mid_line = False

    # -- streaming callbacks (they run on the client's loop thread while `send` waits) --------------

    def on_text(self, delta: str) -> None:
        if not self.mid_line:
            self.console.print(Text("aomi> ", style="bold cyan"), end="")
            delta = delta.lstrip("\n")
        self.console.print(Text(delta), end="", soft_wrap=True)
        self.console.file.flush()
        self.mid_line = True

    def on_tool(self, tool: ToolCall) -> None:
        self.say(f"tool {_short(tool.topic, 60)} -> {_short(tool.result)}", "yellow")

    def on_wallet_request(self, request: WalletRequest) -> None:
        p = request.payload
        if request.is_transaction:
            what = f"transaction to {p.get('to')}, value {p.get('value')} wei, chain {p.get('chain_id')}"
            if p.get("data") not in (None, "0x"):
                what += f", data {_short(str(p.get('data')), 42)}"
        else:
            typed = p.get("typed_data")
            primary = typed.get("primaryType", "EIP-712") if isinstance(typed, dict) else "EIP-712"
            what = f"typed-data signature ({primary}), chain {p.get('chain_id')}"
        self.say(f"wallet request {request.request_id}: {what}", "magenta")
        if p.get("description"):
            self.say(f"  {_short(str(p['description']))}", "magenta")

    # -- the loop ------------------------------------------------------------------------------

    def banner(self) -> None:
        who = f", wallet {self.wallet}" if self.wallet else ""
        self.say(f"Aomi chat at {self.client.base_url}: app {self.app}{who}, session {self.session.id}")
        self.say(HELP, "dim")

    def run(self) -> None:
        self.banner()
        while True:
            try:
                line = input(PROMPT).strip()
            except (EOFError, KeyboardInterrupt):
                self.say("bye")
                return
            if not line:
                continue
            try:
                if line.startswith("/"):
                    if not self.command(line):
                        return
                else:
                    self.send(line)
            except AomiClientError as exc:
                self.end_line()
                _error(exc.message)

    def send(self, message: str) -> None:
        try:
            result = self.session.send(message, **self.handlers)
        except KeyboardInterrupt:
            self.session.interrupt()
            self.say("(interrupted)", "dim")
            return
        self.finish(result)

    def finish(self, result: TurnResult) -> None:
        self.end_line()
        for error in result.errors:
            _error(error)
        self.pending = result.wallet_requests
        if self.pending:
            ids = ", ".join(str(r.request_id) for r in self.pending)
            self.say(
                f"waiting for the wallet (pending request {ids}): sign it in your wallet, "
                "/reject to refuse, or send a new message",
                "magenta",
            )
        elif result.status not in ("idle", "processing"):
            self.say(f"(turn ended: {result.status})", "dim")

    # -- commands ------------------------------------------------------------------------------

    def command(self, line: str) -> bool:
        """Run a slash command; False to quit."""
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        if name in ("/quit", "/exit"):
            self.say("bye")
            return False
        handlers = {
            "/new": self.new_session,
            "/threads": self.threads,
            "/model": self.model,
            "/app": self.switch_app,
            "/reject": self.reject,
            "/help": self.help,
        }
        handler = handlers.get(name)
        if handler is None:
            _error(f"unknown command {name}; {HELP}")
        else:
            handler(arg)
        return True

    def help(self, _arg: str) -> None:
        self.say(HELP)

    def new_session(self, _arg: str = "") -> None:
        self.session = self.client.session(app=self.app, wallet=self.wallet)
        self.pending = []
        self.say(f"new session {self.session.id} (app {self.app})")

    def threads(self, _arg: str) -> None:
        if not self.wallet:
            _error("/threads lists a wallet's threads: start aomi chat with --wallet 0x...")
            return
        page = self.client.list_threads(self.wallet)
        if not page.threads:
            self.say(f"no threads for {self.wallet}")
            return
        self.say(f"threads of {self.wallet}:")
        for t in page.threads:
            mark = "*" if t.session_id == self.session.id else " "
            archived = ", archived" if t.is_archived else ""
            self.say(f"{mark} {t.session_id}  {t.title or ''}  ({t.app}, {t.updated_at}{archived})")

    def model(self, name: str) -> None:
        if not name:
            self.say("models: " + ", ".join(self.session.models()))
            return
        self.session.set_model(name)
        self.say(f"model set to {name}")

    def switch_app(self, name: str) -> None:
        apps = self.client.get_apps()
        if not name:
            self.say("apps: " + ", ".join(f"{a} *" if a == self.app else a for a in apps))
            return
        if name not in apps:
            _error(
                f"the App {name!r} is not available here (apps: {', '.join(apps)}); a keyed App needs --key"
            )
            return
        self.app = name
        self.new_session()

    def reject(self, _arg: str) -> None:
        if not self.pending:
            _error("no wallet request is pending")
            return
        for request in self.pending:
            self.session.answer_wallet(rejection(request))
        self.pending = []
        self.finish(self.session.wait(**self.handlers))


def chat_command(
    url: Annotated[str, typer.Option(help="The Aomi server's base URL.")] = DEFAULT_URL,
    app: Annotated[str, typer.Option(help="The App to chat with.")] = "default",
    key: Annotated[
        str | None, typer.Option(help="App key (`sk-...`), sent as AOMI-APP-KEY; needed for keyed Apps.")
    ] = None,
    session: Annotated[
        str | None, typer.Option(help="Continue this session id (default: a new session).")
    ] = None,
    wallet: Annotated[
        str | None, typer.Option(help="Bind the session to this wallet address; /threads lists its threads.")
    ] = None,
) -> None:
    """Chat with an Aomi server in the terminal: streamed answers, tool calls, wallet requests."""
    console = Console(highlight=False)
    client = AomiClient(url, app_key=key, app=app)
    try:
        try:
            client.health()
        except AomiClientError as exc:
            fail(exc.message)
        shell = ChatShell(client, console, app, wallet)
        if session:
            shell.session = client.session(session, app=app, wallet=wallet)
        shell.run()
    finally:
        client.close()
