"""Manifests with Python tools, HTTP tools, MCP servers and documents: what loads, and a
one-line error naming the file and the field for everything that does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_ai.toolsets import FunctionToolset

from aomi.apps.app import HttpToolSpec, McpServerSpec
from aomi.apps.registry import load_registry
from tests.apps.test_manifest import VALID, load_error, registry_of, write_app
from tests.support.apps import EXAMPLES

HTTP = """
[[secrets]]
name = "KEY"
[[http_tools]]
name = "quote"
description = "A quote."
url = "https://q.example/v1/{symbol}"
headers = { "X-Key" = "{secret.KEY}" }
query = { in = "{currency}" }
select = "data.price"
[http_tools.parameters]
type = "object"
required = ["symbol"]
properties = { symbol = { type = "string" }, currency = { type = "string" } }
"""

TOOLS_PY = '''
from pydantic_ai.toolsets import FunctionToolset

from aomi.tools.context import ToolContext


async def lookup(ctx: ToolContext, symbol: str) -> str:
    """Look a symbol up."""
    return symbol


def plain(x: int) -> int:
    """No context needed."""
    return x + 1


kit = FunctionToolset()


@kit.tool_plain
def kit_tool(y: int) -> int:
    return y


NOT_A_TOOL = 42
'''


def test_examples_load_with_every_kind_of_tool() -> None:
    registry = load_registry(EXAMPLES, registry_of("offline"))
    guide = registry.get("defi-guide")
    assert guide is not None
    assert guide.tool_summary() == [
        "get_balance",
        "get_chain_context",
        "gas:estimate_gas_cost",
        "http:get_quote",
        "search_docs",
    ]
    assert guide.documents == ("docs/*.md",)
    facts = registry.get("chain-facts")
    assert facts is not None
    assert facts.mcp_servers == (
        McpServerSpec(
            name="facts", command="python", args=("mcp_server.py",), allow=("typical_gas", "block_time")
        ),
    )
    assert len(registry.toolsets("chain-facts")) == 1
    assert registry.toolsets("default") == []


def test_http_tool_is_read(tmp_path: Path) -> None:
    write_app(tmp_path, "x", VALID.format(name="x") + HTTP)
    app = load_registry(tmp_path, registry_of("offline")).get("x")
    assert app is not None
    assert app.http_tools == (
        HttpToolSpec(
            name="quote",
            description="A quote.",
            method="GET",
            url="https://q.example/v1/{symbol}",
            parameters={
                "type": "object",
                "required": ["symbol"],
                "properties": {"symbol": {"type": "string"}, "currency": {"type": "string"}},
            },
            headers=(("X-Key", "{secret.KEY}"),),
            query=(("in", "{currency}"),),
            select="data.price",
            timeout_seconds=10.0,
        ),
    )


def test_python_tools_functions_and_toolsets_load(tmp_path: Path) -> None:
    text = VALID.format(name="x") + 'python_tools = ["tools:lookup", "tools:plain", "tools:kit"]\n'
    write_app(tmp_path, "x", text, {"tools.py": TOOLS_PY})
    registry = load_registry(tmp_path, registry_of("offline"))
    own, kit = registry.toolsets("x")
    functions = own.wrapped  # type: ignore[attr-defined]
    assert isinstance(functions, FunctionToolset)
    assert sorted(functions.tools) == ["lookup", "plain"]
    assert functions.tools["lookup"].takes_ctx and not functions.tools["plain"].takes_ctx
    assert list(kit.wrapped.tools) == ["kit_tool"]  # type: ignore[attr-defined]


def test_same_module_name_in_two_apps_stays_apart(tmp_path: Path) -> None:
    for name, answer in (("a", "from a"), ("b", "from b")):
        code = f'def lookup() -> str:\n    """Who."""\n    return "{answer}"\n'
        write_app(
            tmp_path, name, VALID.format(name=name) + 'python_tools = ["tools:lookup"]\n', {"tools.py": code}
        )
    registry = load_registry(tmp_path, registry_of("offline"))
    answers = [
        registry.toolsets(name)[0].wrapped.tools["lookup"].function()  # type: ignore[attr-defined]
        for name in ("a", "b")
    ]
    assert answers == ["from a", "from b"]


@pytest.mark.parametrize(
    ("spec", "files", "error"),
    [
        ("tools", {}, "'tools' is not 'module:function' (e.g. 'tools:lookup')"),
        ("tools:lookup", {}, "no module 'tools': create "),
        ("tools:missing", {"tools.py": TOOLS_PY}, "'tools' has no 'missing' (in "),
        (
            "tools:NOT_A_TOOL",
            {"tools.py": TOOLS_PY},
            "'tools:NOT_A_TOOL' is neither a function nor a pydantic-ai",
        ),
        (
            "tools:f",
            {"tools.py": "import not_installed_pkg\n"},
            "importing 'tools' failed: ModuleNotFoundError",
        ),
        (
            "tools:f",
            {"tools.py": "raise RuntimeError('boom')\n"},
            "importing 'tools' failed: RuntimeError: boom",
        ),
        ("tools:f", {"tools.py": "def f(:\n"}, "importing 'tools' failed: SyntaxError"),
        (
            "tools:get_balance",
            {"tools.py": "def get_balance() -> int:\n    return 1\n"},
            "already used by tools[0]",
        ),
    ],
)
def test_bad_python_tools_name_file_and_field(
    tmp_path: Path, spec: str, files: dict[str, str], error: str
) -> None:
    text = VALID.format(name="x").replace('["get_token_price"]', '["get_balance"]')
    path = write_app(tmp_path, "x", text + f'python_tools = ["{spec}"]\n', files)
    message = load_error(tmp_path)
    assert message.startswith(f"{path}: python_tools[0]: "), message
    assert error in message


@pytest.mark.parametrize(
    ("text", "field", "error"),
    [
        (
            HTTP.replace('name = "quote"', 'name = "bad name"'),
            "http_tools[0].name",
            "invalid tool name 'bad name'",
        ),
        (
            HTTP.replace('name = "quote"', 'name = "get_token_price"'),
            "http_tools[0].name",
            "already used by tools[0]",
        ),
        (
            HTTP.replace('description = "A quote."', 'description = " "'),
            "http_tools[0].description",
            "required",
        ),
        (
            HTTP.replace("https://q.example", "ftp://q.example"),
            "http_tools[0].url",
            "must start with http://",
        ),
        (HTTP.replace("{symbol}", "{sym}"), "http_tools[0].url", "{sym} is no parameter"),
        (
            HTTP.replace("https://q.example/v1/{symbol}", "{symbol}/v1"),
            "http_tools[0].url",
            "must start with http://, https:// or a {secret.NAME}",
        ),
        (
            HTTP.replace("{symbol}", "{currency}"),
            "http_tools[0].url",
            "{currency} in the URL must be a required",
        ),
        (
            HTTP.replace("{secret.KEY}", "{secret.NOPE}"),
            "http_tools[0].headers.X-Key",
            "{secret.NOPE} names no",
        ),
        (
            HTTP.replace("{currency}", "{currency"),
            "http_tools[0].query.in",
            "a '{' or '}' that is not part of",
        ),
        (
            HTTP.replace('select = "data.price"', 'select = "data..price"'),
            "http_tools[0].select",
            "not a dotted",
        ),
        (
            HTTP.replace('type = "object"', 'type = "array"'),
            "http_tools[0].parameters.type",
            'must be "object"',
        ),
        (
            HTTP.replace('required = ["symbol"]', 'required = ["nope"]'),
            "http_tools[0].parameters.required[0]",
            "'nope'",
        ),
        (
            HTTP.replace('symbol = { type = "string" }', 'symbol = { type = "text" }'),
            "http_tools[0].parameters.properties.symbol.type",
            "must be one of string, integer",
        ),
        (
            HTTP.replace('url = "', 'method = "TRACE"\nurl = "'),
            "http_tools[0].method",
            "Input should be 'GET'",
        ),
        (
            HTTP.replace('url = "', 'retries = 3\nurl = "'),
            "http_tools[0].retries",
            "unknown key (allowed: name,",
        ),
        (
            HTTP.replace('url = "', 'timeout_seconds = 0\nurl = "'),
            "http_tools[0].timeout_seconds",
            "greater than 0",
        ),
        (HTTP.replace('url = "https://q.example/v1/{symbol}"\n', ""), "http_tools[0].url", "required"),
    ],
)
def test_bad_http_tools_name_file_and_field(tmp_path: Path, text: str, field: str, error: str) -> None:
    path = write_app(tmp_path, "x", VALID.format(name="x") + text)
    message = load_error(tmp_path)
    assert message.startswith(f"{path}: {field}: "), message
    assert error in message


MCP = '\n[[secrets]]\nname = "TOKEN"\n[[mcp_servers]]\nname = "facts"\n'


@pytest.mark.parametrize(
    ("text", "field", "error"),
    [
        (MCP, "mcp_servers[0].url", "give exactly one of 'url' (streamable HTTP) or 'command' (stdio)"),
        (MCP + 'url = "http://h/mcp"\ncommand = "x"\n', "mcp_servers[0].url", "give exactly one of"),
        (MCP + 'url = "ws://h/mcp"\n', "mcp_servers[0].url", "must start with http:// or https://"),
        (MCP + 'url = "http://h/mcp"\nargs = ["a"]\n', "mcp_servers[0].args", "only for stdio servers"),
        (MCP + 'command = "x"\nheaders = { A = "b" }\n', "mcp_servers[0].headers", "only for HTTP servers"),
        (MCP + 'command = " "\n', "mcp_servers[0].command", "must not be empty"),
        (
            MCP + 'url = "http://h/mcp"\nheaders = { A = "{x}" }\n',
            "mcp_servers[0].headers.A",
            "only {secret.NAME}",
        ),
        (
            MCP + 'url = "http://h/mcp"\nheaders = { A = "{secret.B}" }\n',
            "mcp_servers[0].headers.A",
            "names no",
        ),
        (
            MCP + 'command = "x"\nenv = { T = "{secret.TOKEN}" }\n',
            "mcp_servers[0].env.T",
            'source = "operator"',
        ),
        (MCP + 'command = "x"\nallow = [""]\n', "mcp_servers[0].allow[0]", "must not be empty"),
        (MCP + 'command = "x"\nprefix = "a-b"\n', "mcp_servers[0].prefix", "invalid prefix 'a-b'"),
        (
            MCP.replace('"facts"', '"Facts!"') + 'command = "x"\n',
            "mcp_servers[0].name",
            "invalid server name",
        ),
        (
            MCP + 'command = "x"\n[[mcp_servers]]\nname = "facts"\ncommand = "y"\n',
            "mcp_servers[1].name",
            "twice",
        ),
        (
            MCP + 'command = "x"\nport = 1\n',
            "mcp_servers[0].port",
            "unknown key (allowed: name, url, command",
        ),
    ],
)
def test_bad_mcp_servers_name_file_and_field(tmp_path: Path, text: str, field: str, error: str) -> None:
    path = write_app(tmp_path, "x", VALID.format(name="x") + text)
    message = load_error(tmp_path)
    assert message.startswith(f"{path}: {field}: "), message
    assert error in message


@pytest.mark.parametrize(
    ("globs", "error"),
    [
        ('["docs/*.md"]', "'docs/*.md' matches no file under"),
        ('["../*.md"]', "'../*.md' must be a glob relative to the App directory"),
        ('["/etc/*.conf"]', "must be a glob relative to the App directory"),
        ('[""]', "must be a glob relative"),
    ],
)
def test_bad_documents_name_file_and_field(tmp_path: Path, globs: str, error: str) -> None:
    path = write_app(tmp_path, "x", VALID.format(name="x") + f"documents = {globs}\n")
    message = load_error(tmp_path)
    assert message.startswith(f"{path}: documents[0]: "), message
    assert error in message


def test_documents_give_the_app_search_docs(tmp_path: Path) -> None:
    write_app(tmp_path, "x", VALID.format(name="x") + 'documents = ["*.md"]\n', {"a.md": "# A\n\ntext\n"})
    app = load_registry(tmp_path, registry_of("offline")).get("x")
    assert app is not None
    assert app.documents == ("*.md",)
    assert app.tool_summary() == ["get_token_price", "search_docs"]
    text = VALID.format(name="y").replace('"get_token_price"', '"get_token_price"]\ndocuments = ["*.md"]\n#')
    text += '\n[[http_tools]]\nname = "search_docs"\ndescription = "d"\nurl = "http://h/"\n'
    path = write_app(tmp_path, "y", text, {"a.md": "# A\n"})
    assert load_error(tmp_path).startswith(
        f"{path}: http_tools[0].name: the tool name 'search_docs' is already used"
    )
