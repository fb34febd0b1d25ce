"""`aomi apps validate|show` and `aomi docs ingest|search`."""

from __future__ import annotations

import json
from pathlib import Path

from aomi.settings import Settings
from tests.cli.conftest import Cli
from tests.support.apps import EXAMPLES, copy_example


def test_validate_the_examples(cli: Cli) -> None:
    out = cli.ok("apps", "validate", str(EXAMPLES)).stdout.splitlines()
    assert [line.split(" (")[0] for line in out] == ["ok: chain-facts", "ok: defi-guide", "ok: mycoindex"]
    assert "http:get_quote" in out[1] and "gas:estimate_gas_cost" in out[1] and "search_docs" in out[1]
    one = cli.ok("apps", "validate", str(EXAMPLES / "chain-facts")).stdout
    assert one.startswith("ok: chain-facts") and "mcp:facts" in one
    assert cli.ok("apps", "validate", str(EXAMPLES / "mycoindex" / "app.toml")).stdout.startswith(
        "ok: mycoindex"
    )


def test_validate_reports_one_line_naming_file_and_field(cli: Cli, tmp_path: Path) -> None:
    app_dir = copy_example(tmp_path / "apps", "defi-guide")
    manifest = app_dir / "app.toml"
    manifest.write_text(manifest.read_text().replace('select = "quote"', 'select = "quote..x"'))
    line = cli.fails("apps", "validate", str(app_dir))
    assert line.startswith(f"error: {manifest}: http_tools[0].select: 'quote..x' is not a dotted path")
    assert cli.fails("apps", "validate", str(tmp_path / "nothing")).endswith(
        "no app.toml there, nor in its subdirectories"
    )


def test_show_an_app(cli: Cli, settings: Settings) -> None:
    copy_example(settings.apps_dir, "defi-guide")
    info = json.loads(cli.ok("apps", "show", "defi-guide", "--json").stdout)
    assert info["python_tools"] == ["gas:estimate_gas_cost"]
    assert info["http_tools"] == [
        {"name": "get_quote", "method": "GET", "url": "{secret.QUOTES_URL}/v1/quote/{symbol}"}
    ]
    assert [(s["name"], s["source"], s["operator_variable"]) for s in info["secrets"]] == [
        ("QUOTES_URL", "operator", "AOMI_APP_DEFI_GUIDE_QUOTES_URL"),
        ("QUOTES_API_KEY", "either", "AOMI_APP_DEFI_GUIDE_QUOTES_API_KEY"),
    ]
    assert info["documents"] == ["docs/*.md"]
    text = cli.ok("apps", "show", "defi-guide").stdout
    assert "get_quote (GET {secret.QUOTES_URL}/v1/quote/{symbol})" in text
    assert "QUOTES_API_KEY (either, required)" in text
    assert cli.fails("apps", "show", "nope") == "error: no App named 'nope' (known: default, defi-guide)"


def test_docs_ingest_search_and_prune(cli: Cli, settings: Settings) -> None:
    app_dir = copy_example(settings.apps_dir, "defi-guide")
    out = cli.ok("docs", "ingest", "defi-guide").stdout
    assert out.startswith("defi-guide: 3 added, 0 replaced, 0 unchanged, 0 removed; ")
    assert cli.ok("docs", "ingest", "defi-guide").stdout.startswith(
        "defi-guide: 0 added, 0 replaced, 3 unchanged"
    )
    hits = cli.ok("docs", "search", "defi-guide", "seed phrase offline", "--limit", "1").stdout
    assert hits.startswith("[1] docs/wallets.md: Wallets > Seed phrases (score ")
    (app_dir / "docs" / "fees.md").unlink()
    extra = app_dir / "notes.txt"
    extra.write_text("Bridges settle in ten minutes.\n")
    out = cli.ok("docs", "ingest", "defi-guide", str(extra)).stdout
    assert out.startswith("defi-guide: 1 added, 0 replaced, 0 unchanged, 1 removed; 1 chunks written")
    out = cli.ok("docs", "ingest", "defi-guide", "--prune").stdout
    assert out.startswith("defi-guide: 0 added, 0 replaced, 2 unchanged, 1 removed")
    assert "no passage" in cli.ok("docs", "search", "defi-guide", "bridges settle").stdout


def test_docs_errors_are_one_line(cli: Cli, settings: Settings) -> None:
    app_dir = copy_example(settings.apps_dir, "defi-guide")
    assert cli.fails("docs", "ingest", "nope").startswith("error: no App named 'nope'")
    assert "declares no documents" in cli.fails("docs", "ingest", "default")
    assert cli.fails("docs", "ingest", "defi-guide", str(app_dir / "missing.md")).endswith(
        "missing.md: no such file or directory"
    )
    (app_dir / "docs" / "bad.md").write_bytes(b"\xff\xfe\x00")
    result = cli("docs", "ingest", "defi-guide")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "warning: docs/bad.md: not UTF-8 text",
        "error: 1 file(s) could not be ingested (see the warnings above)",
    ]
