"""The App manifest (`<apps_dir>/<name>/app.toml`): its schema and the checks that turn it into an App.

Every problem is reported as one `ManifestError` line, `<file>: <field>: <what is wrong>`, so an
operator can fix the manifest without reading a traceback.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Collection, Mapping
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from aomi.agent.labels import OFFLINE_LABEL
from aomi.apps.app import (
    DEFAULT_APP_NAME,
    SECRET_NAME_PATTERN,
    App,
    HttpMethod,
    HttpToolSpec,
    McpServerSpec,
    SecretSlot,
)
from aomi.apps.templates import placeholders
from aomi.errors import ManifestError

MANIFEST_FILE = "app.toml"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
TOOL_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
PYTHON_TOOL_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
SELECT_PATTERN = r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$"
SEARCH_DOCS_TOOL = "search_docs"
JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object")


class ModelsTable(BaseModel):
    """The `[models]` table."""

    # strict: TOML already has real types, so "yes" for a bool is a mistake, not something to coerce.
    model_config = ConfigDict(extra="forbid", strict=True)

    default: str | None = Field(default=None, description="Label of the default model.")
    allowed: list[str] | None = Field(
        default=None, min_length=1, description="Labels the App may use; defaults to [default]."
    )


class SecretTable(BaseModel):
    """One `[[secrets]]` entry: a secret slot the App's tools may read."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(description="The slot's name: letters, digits and _, not starting with a digit.")
    description: str = Field(default="", description="What the value is, for clients and operators.")
    required: bool = Field(default=True, description="Tools that need it fail clearly without it.")
    source: Literal["operator", "client", "either"] = Field(
        default="either",
        description="Who provides it: the operator (`AOMI_APP_<APP>_<NAME>`), the client "
        "(`POST /api/secrets`), or either (the client's value first).",
    )


class HttpToolTable(BaseModel):
    """One `[[http_tools]]` entry: a tool that makes one HTTP request per call."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(description="The tool's name, as the model sees it.")
    description: str = Field(description="What the tool does, for the model.")
    method: HttpMethod = Field(default="GET", description="GET, POST, PUT, PATCH or DELETE.")
    url: str = Field(description="URL template: `{param}` and `{secret.NAME}` placeholders.")
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON schema (an object) of the arguments.",
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Header templates.")
    query: dict[str, str] = Field(default_factory=dict, description="Query parameter templates.")
    select: str | None = Field(default=None, description="Dotted path of the answer's field to return.")
    timeout_seconds: float = Field(default=10.0, gt=0, le=300, description="Timeout of the request.")


class McpServerTable(BaseModel):
    """One `[[mcp_servers]]` entry: an MCP server over streamable HTTP (`url`) or stdio (`command`)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(description="A name for the server, used in errors.")
    url: str | None = Field(default=None, description="Streamable HTTP endpoint (http:// or https://).")
    command: str | None = Field(
        default=None, description="A program to run (stdio); `python` is the server's own Python."
    )
    args: list[str] = Field(default_factory=list, description="Its arguments (stdio).")
    env: dict[str, str] = Field(default_factory=dict, description="Its environment (stdio).")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers (HTTP).")
    allow: list[str] | None = Field(default=None, description="The server's tools to offer; default all.")
    prefix: str | None = Field(default=None, description="Tool names become `<prefix>_<name>`.")
    timeout_seconds: float = Field(default=30.0, gt=0, le=600, description="Connect and call timeout.")


class Manifest(BaseModel):
    """The shape of `app.toml`; semantic checks (known tools, models, files) follow in `parse_manifest`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(description="The App name; must equal the directory name.")
    description: str = Field(default="", description="One line shown in the App list.")
    public: bool = Field(default=False, description="Usable without an App key.")
    preamble: str | None = Field(default=None, description="The system prompt, inline.")
    preamble_file: str | None = Field(
        default=None, description="The system prompt, read from this path relative to the manifest."
    )
    tools: list[str] = Field(default_factory=list, description="Names of built-in tools.")
    models: ModelsTable | None = Field(default=None, description="Model configuration.")
    secrets: list[SecretTable] = Field(default_factory=list, description="Secret slots (`[[secrets]]`).")
    python_tools: list[str] = Field(
        default_factory=list, description="`module:function` (or a toolset) in the App's directory."
    )
    http_tools: list[HttpToolTable] = Field(default_factory=list, description="HTTP tools.")
    mcp_servers: list[McpServerTable] = Field(default_factory=list, description="MCP servers.")
    documents: list[str] = Field(default_factory=list, description="Globs of files for `search_docs`.")


_TABLES: dict[str, type[BaseModel]] = {
    "secrets": SecretTable,
    "http_tools": HttpToolTable,
    "mcp_servers": McpServerTable,
}


def _loc(loc: tuple[int | str, ...]) -> str:
    """("tools", 1) -> "tools[1]"; ("models", "default") -> "models.default"."""
    out = ""
    for item in loc:
        out += f"[{item}]" if isinstance(item, int) else (f".{item}" if out else item)
    return out or "(manifest)"


def _describe(error: ErrorDetails) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        if loc[:1] == ("models",) and len(loc) == 2:
            table: type[BaseModel] = ModelsTable
        elif len(loc) == 3 and str(loc[0]) in _TABLES:
            table = _TABLES[str(loc[0])]
        else:
            table = Manifest
        return f"{_loc(loc)}: unknown key (allowed: {', '.join(table.model_fields)})"
    if error["type"] == "missing":
        return f"{_loc(loc)}: required"
    return f"{_loc(loc)}: {error['msg']}"


def read_manifest(path: Path) -> Manifest:
    """Parse and shape-check one manifest file."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message ends in "(at line N, column M)".
        raise ManifestError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ManifestError(f"{path}: invalid TOML: not UTF-8 text") from None
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(f"{path}: {_describe(exc.errors()[0])}") from None


def parse_manifest(path: Path, *, tool_names: Collection[str], model_labels: Collection[str]) -> App:
    """Read `path` and check it against the known tools and model labels."""
    manifest = read_manifest(path)

    fail = partial(_field_error, path)
    if not re.fullmatch(NAME_PATTERN, manifest.name):
        raise fail("name", f"invalid App name {manifest.name!r} (lowercase letters, digits, '-', '_'; 1-64)")
    if manifest.name == DEFAULT_APP_NAME:
        raise fail("name", f"{DEFAULT_APP_NAME!r} is reserved for the built-in App")
    if manifest.name != path.parent.name:
        raise fail("name", f"{manifest.name!r} must equal the directory name {path.parent.name!r}")

    preamble = _preamble(manifest, path)

    known_tools = sorted(tool_names)
    for i, tool in enumerate(manifest.tools):
        if tool not in tool_names:
            raise fail(f"tools[{i}]", f"unknown tool {tool!r} (known: {', '.join(known_tools)})")

    default_model, allowed = _models(manifest.models or ModelsTable(), model_labels, path)
    slots: dict[str, SecretSlot] = {}
    for i, entry in enumerate(manifest.secrets):
        if not re.fullmatch(SECRET_NAME_PATTERN, entry.name):
            raise fail(
                f"secrets[{i}].name", f"invalid secret name {entry.name!r} (letters, digits, '_'; 1-64)"
            )
        if entry.name in slots:
            raise fail(f"secrets[{i}].name", f"{entry.name!r} is declared twice")
        slots[entry.name] = SecretSlot(entry.name, entry.description, entry.required, entry.source)

    taken = {name: f"tools[{i}]" for i, name in enumerate(manifest.tools)}
    if manifest.documents:
        taken[SEARCH_DOCS_TOOL] = "documents"
    for i, spec in enumerate(manifest.python_tools):
        if not re.fullmatch(PYTHON_TOOL_PATTERN, spec):
            raise fail(f"python_tools[{i}]", f"{spec!r} is not 'module:function' (e.g. 'tools:lookup')")
    http = [_http_tool(t, f"http_tools[{i}]", slots, taken, fail) for i, t in enumerate(manifest.http_tools)]
    mcp = [_mcp_server(m, f"mcp_servers[{i}]", slots, fail) for i, m in enumerate(manifest.mcp_servers)]
    names = [m.name for m in mcp]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise fail(f"mcp_servers[{i}].name", f"{name!r} is declared twice")
    documents = tuple(_documents(manifest.documents, path.parent, fail))
    return App(
        name=manifest.name,
        description=manifest.description,
        public=manifest.public,
        preamble=preamble,
        default_model=default_model,
        allowed_models=allowed,
        tools=tuple(dict.fromkeys(manifest.tools)),
        secrets=tuple(slots.values()),
        root=path.parent.resolve(),
        python_tools=tuple(dict.fromkeys(manifest.python_tools)),
        http_tools=tuple(http),
        mcp_servers=tuple(mcp),
        documents=documents,
    )


Fail = Callable[[str, str], ManifestError]


def _secret_refs(template: str, field: str, slots: Collection[str], fail: Fail) -> list[str]:
    """The parameter names a template uses; its secrets must be declared slots."""
    try:
        params, secrets = placeholders(template)
    except ValueError as exc:
        raise fail(field, f"{exc} (in {template!r})") from None
    for name in secrets:
        if name not in slots:
            raise fail(field, f"{{secret.{name}}} names no declared secret: add a [[secrets]] entry {name!r}")
    return params


def _http_tool(
    table: HttpToolTable, where: str, slots: Collection[str], taken: dict[str, str], fail: Fail
) -> HttpToolSpec:
    if not re.fullmatch(TOOL_NAME_PATTERN, table.name):
        raise fail(f"{where}.name", f"invalid tool name {table.name!r} (letters, digits, '_'; 1-64)")
    if table.name in taken:
        raise fail(f"{where}.name", f"the tool name {table.name!r} is already used by {taken[table.name]}")
    taken[table.name] = where
    if not table.description.strip():
        raise fail(f"{where}.description", "required: say what the tool does, for the model")
    properties, required = _parameters(table.parameters, f"{where}.parameters", fail)
    used: list[tuple[str, str]] = [("url", p) for p in _secret_refs(table.url, f"{where}.url", slots, fail)]
    if not table.url.startswith(("http://", "https://", "{secret.")):
        # Never an argument: the model must not choose where the request (and its secrets) goes.
        raise fail(f"{where}.url", f"{table.url!r} must start with http://, https:// or a {{secret.NAME}}")
    for part, values in (("headers", table.headers), ("query", table.query)):
        for key, value in values.items():
            used += [(f"{part}.{key}", p) for p in _secret_refs(value, f"{where}.{part}.{key}", slots, fail)]
    for field, param in used:
        if param not in properties:
            raise fail(f"{where}.{field}", f"{{{param}}} is no parameter (add it to parameters.properties)")
        if field == "url" and param not in required:
            raise fail(f"{where}.url", f"{{{param}}} in the URL must be a required parameter")
    if table.select is not None and not re.fullmatch(SELECT_PATTERN, table.select):
        raise fail(f"{where}.select", f"{table.select!r} is not a dotted path such as 'data.items.0.price'")
    return HttpToolSpec(
        name=table.name,
        description=table.description.strip(),
        method=table.method,
        url=table.url,
        parameters=table.parameters,
        headers=tuple(table.headers.items()),
        query=tuple(table.query.items()),
        select=table.select,
        timeout_seconds=table.timeout_seconds,
    )


def _parameters(schema: dict[str, Any], where: str, fail: Fail) -> tuple[dict[str, Any], list[str]]:
    """Check the JSON schema of an HTTP tool's arguments: an object of typed properties."""
    if schema.get("type") != "object":
        raise fail(f"{where}.type", 'must be "object"')
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        raise fail(f"{where}.properties", "must be a table of parameter schemas")
    for name, prop in properties.items():
        if not re.fullmatch(TOOL_NAME_PATTERN, name):
            raise fail(f"{where}.properties.{name}", "invalid parameter name (letters, digits, '_')")
        if not isinstance(prop, dict) or prop.get("type") not in JSON_TYPES:
            raise fail(f"{where}.properties.{name}.type", f"must be one of {', '.join(JSON_TYPES)}")
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise fail(f"{where}.required", "must be a list of parameter names")
    for i, name in enumerate(required):
        if name not in properties:
            raise fail(f"{where}.required[{i}]", f"{name!r} is not in parameters.properties")
    return properties, required


def _mcp_server(
    table: McpServerTable, where: str, slots: Mapping[str, SecretSlot], fail: Fail
) -> McpServerSpec:
    if not re.fullmatch(NAME_PATTERN, table.name):
        raise fail(f"{where}.name", f"invalid server name {table.name!r} (a-z, 0-9, '-', '_')")
    if (table.url is None) == (table.command is None):
        raise fail(f"{where}.url", "give exactly one of 'url' (streamable HTTP) or 'command' (stdio)")
    if table.url is not None:
        if not table.url.startswith(("http://", "https://")):
            raise fail(f"{where}.url", f"{table.url!r} must start with http:// or https://")
        if table.args or table.env:
            raise fail(f"{where}.{'args' if table.args else 'env'}", "only for stdio servers ('command')")
    elif table.headers:
        raise fail(f"{where}.headers", "only for HTTP servers ('url')")
    elif not table.command or not table.command.strip():
        raise fail(f"{where}.command", "must not be empty")
    for part, values in (("headers", table.headers), ("env", table.env)):
        for key, value in values.items():
            field = f"{where}.{part}.{key}"
            if _secret_refs(value, field, slots, fail):
                raise fail(field, "only {secret.NAME} placeholders are allowed here")
            for name in placeholders(value)[1]:
                if part == "env" and slots[name].source != "operator":
                    raise fail(
                        field, f'a stdio server outlives turns: the secret {name} needs source = "operator"'
                    )
    for i, name in enumerate(table.allow or []):
        if not name.strip():
            raise fail(f"{where}.allow[{i}]", "must not be empty")
    if table.prefix is not None and not re.fullmatch(TOOL_NAME_PATTERN, table.prefix):
        raise fail(f"{where}.prefix", f"invalid prefix {table.prefix!r} (letters, digits, '_')")
    return McpServerSpec(
        name=table.name,
        url=table.url,
        command=table.command,
        args=tuple(table.args),
        env=tuple(table.env.items()),
        headers=tuple(table.headers.items()),
        allow=tuple(table.allow) if table.allow is not None else None,
        prefix=table.prefix,
        timeout_seconds=table.timeout_seconds,
    )


def _documents(globs: list[str], root: Path, fail: Fail) -> list[str]:
    """Each glob must stay inside the App's directory and match at least one file."""
    for i, pattern in enumerate(globs):
        if not pattern.strip() or Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise fail(f"documents[{i}]", f"{pattern!r} must be a glob relative to the App directory")
        if not any(p.is_file() for p in root.glob(pattern)):
            raise fail(f"documents[{i}]", f"{pattern!r} matches no file under {root}")
    return list(dict.fromkeys(globs))


def _field_error(path: Path, field: str, message: str) -> ManifestError:
    return ManifestError(f"{path}: {field}: {message}")


def _preamble(manifest: Manifest, path: Path) -> str:
    fail = partial(_field_error, path)
    if (manifest.preamble is None) == (manifest.preamble_file is None):
        field = "preamble" if manifest.preamble is None else "preamble_file"
        raise fail(field, "give exactly one of 'preamble' (inline text) or 'preamble_file'")
    if manifest.preamble is not None:
        return manifest.preamble.strip()
    assert manifest.preamble_file is not None
    file = path.parent / manifest.preamble_file
    try:
        return file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise fail("preamble_file", f"file not found: {file}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail("preamble_file", f"cannot read {file}: {exc}") from None


def _models(table: ModelsTable, model_labels: Collection[str], path: Path) -> tuple[str, tuple[str, ...]]:
    fail = partial(_field_error, path)
    known = ", ".join(sorted(model_labels))
    if table.default is None:
        default = table.allowed[0] if table.allowed else OFFLINE_LABEL
    else:
        default = table.default
    allowed = list(dict.fromkeys(table.allowed or [default]))
    if default not in model_labels:
        raise fail("models.default", f"unknown model {default!r} (known: {known})")
    for i, label in enumerate(allowed):
        if label not in model_labels:
            raise fail(f"models.allowed[{i}]", f"unknown model {label!r} (known: {known})")
    if default not in allowed:
        raise fail("models.default", f"{default!r} is not in models.allowed ({', '.join(allowed)})")
    allowed.remove(default)
    return default, (default, *allowed)
