"""The App registry: the built-in default App is always there and always listed first."""

from __future__ import annotations

from pathlib import Path

import pytest

from aomi.apps.registry import App, AppRegistry, load_registry
from aomi.errors import ManifestError
from aomi.tools.registry import BUILTIN_TOOLS


def write_app(apps_dir: Path, name: str) -> None:
    (apps_dir / name).mkdir(parents=True)
    (apps_dir / name / "app.toml").write_text(f'name = "{name}"\npreamble = "I am {name}."\n')


def test_missing_apps_dir_gives_only_the_default_app(tmp_path: Path) -> None:
    registry = load_registry(tmp_path / "does-not-exist")
    assert registry.names() == ["default"]
    default = registry.get("default")
    assert default is not None
    assert default.public is True
    assert default.tools == tuple(BUILTIN_TOOLS)
    assert "get_token_price" in default.tools
    assert (default.default_model, default.allowed_models) == ("offline", ("offline",))
    assert default.preamble


def test_default_first_then_by_name(tmp_path: Path) -> None:
    for name in ["zeta", "alpha", "a-b", "9lives"]:
        write_app(tmp_path, name)
    registry = load_registry(tmp_path)
    assert registry.names() == ["default", "9lives", "a-b", "alpha", "zeta"]
    assert [app.name for app in registry.all()] == registry.names()
    assert len(registry) == 5
    assert "alpha" in registry
    assert "beta" not in registry
    assert registry.get("beta") is None
    alpha = registry.get("alpha")
    assert alpha is not None
    assert alpha.preamble == "I am alpha."
    assert alpha.public is False


def test_directories_without_a_manifest_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "README.md").write_text("not an App")
    write_app(tmp_path, "real")
    assert load_registry(tmp_path).names() == ["default", "real"]


def test_apps_dir_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "apps"
    path.write_text("")
    with pytest.raises(ManifestError, match="not a directory"):
        load_registry(path)


def test_duplicate_names_are_refused() -> None:
    app = App("x", "", False, "p", "offline", ("offline",), ())
    with pytest.raises(ValueError, match="duplicate"):
        AppRegistry([app, app])
