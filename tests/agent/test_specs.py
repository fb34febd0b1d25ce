"""`AOMI_MODELS` and `AOMI_MODELS_FILE`: every well-formed entry becomes a spec; every malformed
one is refused with one line naming the entry and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from aomi.agent.specs import ModelSpec, configured_specs, parse_models, read_models_file
from aomi.errors import ModelConfigError

ENV = {
    "ANTHROPIC_API_KEY": "sk-ant-server",
    "OPENAI_API_KEY": "sk-openai-server",
    "OPENAI_BASE_URL": "http://127.0.0.1:9/v1/",
    "TEAM_KEY": "team-secret",
}


def test_the_issue_example_parses() -> None:
    value = (
        "sonnet=anthropic:claude-sonnet-4-5,gpt=openai:gpt-4o,gemini=google:gemini-2.5-flash,"
        "local=openai-compatible:llama3.2@http://127.0.0.1:11434/v1"
    )
    sonnet, gpt, gemini, local = parse_models(value, ENV)
    assert sonnet == ModelSpec("sonnet", "anthropic", "claude-sonnet-4-5", None, "sk-ant-server")
    assert gpt == ModelSpec("gpt", "openai", "gpt-4o", "http://127.0.0.1:9/v1", "sk-openai-server")
    assert (gemini.provider, gemini.model, gemini.api_key, gemini.has_server_key) == (
        "google",
        "gemini-2.5-flash",
        None,
        False,
    )
    assert (local.base_url, local.api_key, local.has_server_key) == ("http://127.0.0.1:11434/v1", None, True)
    assert "sk-" not in repr(gpt) and repr(gpt) == "ModelSpec(gpt=openai:gpt-4o@http://127.0.0.1:9/v1)"


def test_spaces_and_empty_entries_are_ignored() -> None:
    assert [s.label for s in parse_models(" a = openai:gpt-4o , ,b=groq:llama-3.3-70b,", {})] == ["a", "b"]
    assert parse_models("", {}) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("gpt", "AOMI_MODELS entry 'gpt': missing '='; write label=provider:model"),
        ("=openai:gpt-4o", "missing label before '='"),
        ("gpt=gpt-4o", "missing 'provider:' before the model"),
        ("gpt=:gpt-4o", "missing 'provider:' before the model"),
        ("gpt=openai:", "missing model name after 'openai:'"),
        ("gpt=opena1:gpt-4o", "unknown provider 'opena1' (known: anthropic, openai, google, groq, mistral"),
        ("offline=openai:gpt-4o", "the label 'offline' is built in; pick another label"),
        ("g pt=openai:gpt-4o", "invalid label 'g pt'"),
        ("gpt=openai:gpt 4o", "the model name 'gpt 4o' contains whitespace"),
        (
            "l=openai-compatible:llama3.2",
            "openai-compatible needs a base URL: l=openai-compatible:llama3.2@http",
        ),
        ("l=openai-compatible:llama3.2@", "openai-compatible needs a base URL"),
        ("l=openai-compatible:llama@ftp://x", "base URL 'ftp://x' must be an http:// or https:// URL"),
        ("l=openai-compatible:@http://127.0.0.1:1/v1", "missing model name after 'openai-compatible:'"),
        ("a=openai:gpt-4o,a=anthropic:claude", "AOMI_MODELS: the label 'a' is defined twice; keep one"),
    ],
)
def test_every_malformed_entry_is_one_line_naming_it(value: str, message: str) -> None:
    with pytest.raises(ModelConfigError) as info:
        parse_models(value, {})
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_a_malformed_base_url_variable_is_named() -> None:
    with pytest.raises(ModelConfigError, match="OPENAI_BASE_URL: base URL 'localhost:1' must be"):
        parse_models("gpt=openai:gpt-4o", {"OPENAI_BASE_URL": "localhost:1"})


def test_models_file(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        '[models.team]\nprovider = "anthropic"\nmodel = "claude-haiku-4-5"\napi_key_env = "TEAM_KEY"\n'
        '[models.gw]\nprovider = "openai"\nmodel = "gpt-4o-mini"\nbase_url = "https://gw.example/v1"\n'
        'api_key = "inline"\n'
        '[models.ollama]\nprovider = "openai-compatible"\nmodel = "qwen"\nbase_url = "http://127.0.0.1:11434/v1"\n'
    )
    team, gw, ollama = read_models_file(path, ENV)
    assert (team.api_key, team.base_url) == ("team-secret", None)
    assert (gw.api_key, gw.base_url) == ("inline", "https://gw.example/v1")
    assert (ollama.provider, ollama.has_server_key) == ("openai-compatible", True)
    both = configured_specs("s=anthropic:claude-sonnet-4-5", path, ENV)
    assert [s.label for s in both] == ["s", "team", "gw", "ollama"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[models.a\n", "invalid TOML"),
        ("[other]\nx = 1\n", "other: unknown table (put each model under [models.<label>])"),
        ("models = 3\n", "models: must be a table of [models.<label>] tables"),
        ("[models]\na = 3\n", "models.a: must be a table with provider and model"),
        ('[models.a]\nmodel = "m"\n', "models.a.provider: required"),
        ('[models.a]\nprovider = "openai"\n', "models.a.model: required"),
        ('[models.a]\nprovider = "nope"\nmodel = "m"\n', "models.a.provider: unknown provider 'nope'"),
        ('[models.a]\nprovider = "openai"\nmodel = "m"\nkey = "x"\n', "models.a.key: unknown key (allowed:"),
        ('[models.a]\nprovider = "openai"\nmodel = 3\n', "models.a.model: must be a non-empty string"),
        ('[models.a]\nprovider = "openai-compatible"\nmodel = "m"\n', "models.a.base_url: required for"),
        ('[models.a]\nprovider = "openai"\nmodel = "m"\nbase_url = "x"\n', "base URL 'x' must be"),
        (
            '[models.a]\nprovider = "openai"\nmodel = "m"\napi_key = "k"\napi_key_env = "K"\n',
            "models.a: give api_key or api_key_env, not both",
        ),
        ('[models.offline]\nprovider = "openai"\nmodel = "m"\n', "the label 'offline' is built in"),
    ],
)
def test_every_malformed_models_file_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text(text)
    with pytest.raises(ModelConfigError) as info:
        read_models_file(path, {})
    assert message in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_models_file_unreadable_and_duplicates(tmp_path: Path) -> None:
    with pytest.raises(ModelConfigError, match="cannot read"):
        read_models_file(tmp_path / "missing.toml", {})
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(ModelConfigError, match=r"not UTF-8|invalid TOML"):
        read_models_file(tmp_path / "bin.toml", {})
    path = tmp_path / "models.toml"
    path.write_text('[models.a]\nprovider = "openai"\nmodel = "m"\n')
    with pytest.raises(ModelConfigError, match="the label 'a' is defined twice"):
        configured_specs("a=groq:llama", path, {})
