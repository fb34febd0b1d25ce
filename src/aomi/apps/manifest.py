"""The App manifest (`<apps_dir>/<name>/app.toml`): its schema and the checks that turn it into an App.

Every problem is reported as one `ManifestError` line, `<file>: <field>: <what is wrong>`, so an
operator can fix the manifest without reading a traceback.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection
from functools import partial
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from aomi.agent.labels import OFFLINE_LABEL
from aomi.apps.app import DEFAULT_APP_NAME, SECRET_NAME_PATTERN, App, SecretSlot
from aomi.errors import ManifestError

MANIFEST_FILE = "app.toml"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


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
        elif loc[:1] == ("secrets",) and len(loc) == 3:
            table = SecretTable
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
    return App(
        name=manifest.name,
        description=manifest.description,
        public=manifest.public,
        preamble=preamble,
        default_model=default_model,
        allowed_models=allowed,
        tools=tuple(dict.fromkeys(manifest.tools)),
        secrets=tuple(slots.values()),
    )


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
