"""App manifests: the example loads; every invalid manifest names its file and field in one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aomi.agent.models import ModelRegistry, default_model_registry
from aomi.agent.specs import ModelSpec
from aomi.apps.registry import load_registry
from aomi.errors import ManifestError
from aomi.tools.registry import BUILTIN_TOOLS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "apps"

VALID = """\
name = "{name}"
description = "Test App"
preamble = "You are a test."
tools = ["get_token_price"]
"""


def write_app(apps_dir: Path, name: str, text: str, files: dict[str, str] | None = None) -> Path:
    app_dir = apps_dir / name
    app_dir.mkdir(parents=True)
    manifest = app_dir / "app.toml"
    manifest.write_text(text)
    for rel, content in (files or {}).items():
        (app_dir / rel).write_text(content)
    return manifest


def registry_of(*labels: str, keyless: tuple[str, ...] = ()) -> ModelRegistry:
    """`offline` plus an OpenAI model under each other label (with a server key unless keyless)."""
    models = default_model_registry()
    for label in labels:
        if label != "offline":
            models.add_spec(ModelSpec(label, "openai", label, api_key=None if label in keyless else "k"))
    return models


def load_error(apps_dir: Path, model_labels: tuple[str, ...] = ("offline",)) -> str:
    with pytest.raises(ManifestError) as info:
        load_registry(apps_dir, registry_of(*model_labels))
    message = str(info.value)
    assert "\n" not in message, "errors are one line"
    return message


def test_example_mycoindex_loads(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "mycoindex", tmp_path / "mycoindex")
    app = load_registry(tmp_path).get("mycoindex")
    assert app is not None
    assert app.description == "MyCoinIndex: token prices"
    assert app.public is False
    assert app.tools == ("get_token_price",)
    assert app.default_model == "offline"
    assert app.allowed_models == ("offline",)
    assert app.preamble == (EXAMPLES / "mycoindex" / "preamble.md").read_text().strip()


def test_defaults_when_optional_fields_are_absent(tmp_path: Path) -> None:
    write_app(tmp_path, "mini", 'name = "mini"\npreamble = "Hi."\n')
    app = load_registry(tmp_path).get("mini")
    assert app is not None
    assert (app.description, app.public, app.tools) == ("", False, ())
    assert (app.default_model, app.allowed_models) == ("offline", ("offline",))


def test_models_default_comes_first_and_allowed_defaults_to_default(tmp_path: Path) -> None:
    labels = ("offline", "gpt", "claude")
    write_app(
        tmp_path, "a", 'name = "a"\npreamble = "x"\n[models]\ndefault = "gpt"\nallowed = ["claude", "gpt"]\n'
    )
    write_app(tmp_path, "b", 'name = "b"\npreamble = "x"\n[models]\ndefault = "claude"\n')
    registry = load_registry(tmp_path, registry_of(*labels))
    a, b = registry.get("a"), registry.get("b")
    assert a is not None
    assert b is not None
    assert (a.default_model, a.allowed_models) == ("gpt", ("gpt", "claude"))
    assert (b.default_model, b.allowed_models) == ("claude", ("claude",))


def test_an_app_whose_default_has_no_server_key_starts_on_offline(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    models = '[models]\ndefault = "gpt"\nallowed = ["gpt", "claude"]\n'
    write_app(tmp_path, "a", 'name = "a"\npreamble = "x"\n' + models)
    registry = load_registry(tmp_path, registry_of("gpt", "claude", keyless=("gpt",)))
    a, default = registry.get("a"), registry.get("default")
    assert a is not None and default is not None
    # gpt stays allowed: a client that saved its own OpenAI key may still pick it.
    assert (a.default_model, a.allowed_models) == ("offline", ("offline", "gpt", "claude"))
    assert "App a: its default model gpt has no server key; new sessions use offline" in caplog.text
    # The built-in App offers every provider model and starts on the first one with a key.
    assert (default.default_model, default.allowed_models) == ("claude", ("claude", "offline", "gpt"))


def test_the_default_app_is_offline_without_provider_models(tmp_path: Path) -> None:
    default = load_registry(tmp_path).get("default")
    assert default is not None
    assert (default.default_model, default.allowed_models) == ("offline", ("offline",))


def test_public_is_read(tmp_path: Path) -> None:
    write_app(tmp_path, "open", 'name = "open"\npublic = true\npreamble = "x"\n')
    app = load_registry(tmp_path).get("open")
    assert app is not None
    assert app.public is True


def test_unknown_tool_names_index_and_known_tools(tmp_path: Path) -> None:
    path = write_app(
        tmp_path,
        "mycoindex",
        VALID.replace('["get_token_price"]', '["get_token_price", "get_price"]').format(name="mycoindex"),
    )
    known = ", ".join(sorted(BUILTIN_TOOLS))
    assert "get_token_price" in known
    assert load_error(tmp_path) == (f"{path}: tools[1]: unknown tool 'get_price' (known: {known})")


@pytest.mark.parametrize("bad", ["My App", "-lead", "UPPER", "a" * 65, "dots.no"])
def test_bad_name(tmp_path: Path, bad: str) -> None:
    path = write_app(tmp_path, "dir", VALID.format(name=bad))
    assert load_error(tmp_path).startswith(f"{path}: name: invalid App name")


def test_default_name_is_reserved(tmp_path: Path) -> None:
    path = write_app(tmp_path, "default", VALID.format(name="default"))
    assert load_error(tmp_path).startswith(f"{path}: name: 'default' is reserved")


def test_name_must_equal_directory(tmp_path: Path) -> None:
    path = write_app(tmp_path, "coins", VALID.format(name="mycoins"))
    message = load_error(tmp_path)
    assert message.startswith(f"{path}: name: ")
    assert "'mycoins'" in message
    assert "'coins'" in message


def test_both_preambles(tmp_path: Path) -> None:
    text = VALID.format(name="x") + 'preamble_file = "p.md"\n'
    path = write_app(tmp_path, "x", text, {"p.md": "hello"})
    assert load_error(tmp_path).startswith(f"{path}: preamble_file: give exactly one of")


def test_neither_preamble(tmp_path: Path) -> None:
    path = write_app(tmp_path, "x", 'name = "x"\n')
    assert load_error(tmp_path).startswith(f"{path}: preamble: give exactly one of")


def test_preamble_file_is_read_relative_to_manifest(tmp_path: Path) -> None:
    write_app(tmp_path, "x", 'name = "x"\npreamble_file = "p.md"\n', {"p.md": "  Be brief.\n"})
    app = load_registry(tmp_path).get("x")
    assert app is not None
    assert app.preamble == "Be brief."


def test_missing_preamble_file(tmp_path: Path) -> None:
    path = write_app(tmp_path, "x", 'name = "x"\npreamble_file = "nope.md"\n')
    message = load_error(tmp_path)
    assert message.startswith(f"{path}: preamble_file: file not found: ")
    assert message.endswith("nope.md")


def test_default_model_not_in_allowed(tmp_path: Path) -> None:
    text = VALID.format(name="x") + '[models]\ndefault = "offline"\nallowed = ["gpt"]\n'
    path = write_app(tmp_path, "x", text)
    assert load_error(tmp_path, ("offline", "gpt")) == (
        f"{path}: models.default: 'offline' is not in models.allowed (gpt)"
    )


def test_unknown_default_model_label(tmp_path: Path) -> None:
    path = write_app(tmp_path, "x", VALID.format(name="x") + '[models]\ndefault = "gpt-9"\n')
    assert load_error(tmp_path) == f"{path}: models.default: unknown model 'gpt-9' (known: offline)"


def test_unknown_allowed_model_label(tmp_path: Path) -> None:
    text = VALID.format(name="x") + '[models]\ndefault = "offline"\nallowed = ["offline", "gpt-9"]\n'
    path = write_app(tmp_path, "x", text)
    assert load_error(tmp_path) == f"{path}: models.allowed[1]: unknown model 'gpt-9' (known: offline)"


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = write_app(tmp_path, "x", VALID.format(name="x") + 'colour = "blue"\n')
    message = load_error(tmp_path)
    assert message.startswith(f"{path}: colour: unknown key (allowed: name, description,")


def test_unknown_key_in_models_table(tmp_path: Path) -> None:
    path = write_app(tmp_path, "x", VALID.format(name="x") + '[models]\nfallback = "offline"\n')
    assert load_error(tmp_path) == f"{path}: models.fallback: unknown key (allowed: default, allowed)"


def test_wrong_type_names_field(tmp_path: Path) -> None:
    path = write_app(tmp_path, "x", VALID.format(name="x") + 'public = "yes"\n')
    assert load_error(tmp_path).startswith(f"{path}: public: ")


def test_tool_of_wrong_type_names_index(tmp_path: Path) -> None:
    path = write_app(tmp_path, "x", 'name = "x"\npreamble = "p"\ntools = ["get_token_price", 3]\n')
    assert load_error(tmp_path).startswith(f"{path}: tools[1]: ")


def test_missing_name(tmp_path: Path) -> None:
    path = write_app(tmp_path, "x", 'preamble = "p"\n')
    assert load_error(tmp_path) == f"{path}: name: required"


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write_app(tmp_path, "x", 'name = "x"\npreamble = "p"\ntools = [get_token_price]\n')
    message = load_error(tmp_path)
    assert message.startswith(f"{path}: invalid TOML: ")
    assert "line 3" in message


def test_manifest_that_is_not_utf8(tmp_path: Path) -> None:
    path = write_app(tmp_path, "x", "")
    path.write_bytes(b'name = "x\xff"\n')
    assert load_error(tmp_path) == f"{path}: invalid TOML: not UTF-8 text"


def test_secret_slots_are_read(tmp_path: Path) -> None:
    text = VALID.format(name="x") + (
        '[[secrets]]\nname = "API_KEY"\ndescription = "the key"\n'
        '[[secrets]]\nname = "region"\nrequired = false\nsource = "operator"\n'
    )
    write_app(tmp_path, "x", text)
    app = load_registry(tmp_path, registry_of("offline")).get("x")
    assert app is not None
    assert [s.to_json() for s in app.secrets] == [
        {"name": "API_KEY", "description": "the key", "required": True},
        {"name": "region", "description": "", "required": False},
    ]
    assert [s.source for s in app.secrets] == ["either", "operator"]


@pytest.mark.parametrize(
    ("table", "field", "error"),
    [
        ('name = "1X"', "secrets[0].name", "invalid secret name '1X'"),
        (
            'name = "A"\nsource = "friend"',
            "secrets[0].source",
            "Input should be 'operator', 'client' or 'either'",
        ),
        ('name = "A"\nrequired = "yes"', "secrets[0].required", "Input should be a valid boolean"),
        (
            'name = "A"\nscope = "x"',
            "secrets[0].scope",
            "unknown key (allowed: name, description, required, source)",
        ),
        ('description = "x"', "secrets[0].name", "required"),
    ],
)
def test_bad_secret_slots_name_file_and_field(tmp_path: Path, table: str, field: str, error: str) -> None:
    path = write_app(tmp_path, "x", VALID.format(name="x") + f"[[secrets]]\n{table}\n")
    assert load_error(tmp_path).startswith(f"{path}: {field}: {error}")


def test_a_secret_slot_declared_twice(tmp_path: Path) -> None:
    text = VALID.format(name="x") + '[[secrets]]\nname = "A"\n[[secrets]]\nname = "A"\n'
    path = write_app(tmp_path, "x", text)
    assert load_error(tmp_path) == f"{path}: secrets[1].name: 'A' is declared twice"
