"""The OpenAPI document tells the truth: schemathesis, every check, against a real `aomi serve`
on SQLite and PostgreSQL.

`GET /api/updates` is left out: it is an endless event stream, which a request/response fuzzer
can only time out on; the SSE tests in tests/api/test_updates.py and test_access.py cover it.
The seed is fixed so that a run is reproducible; set AOMI_SCHEMATHESIS_SEED to explore others.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ServerProcess

pytestmark = pytest.mark.e2e
ST = str(Path(sys.executable).parent / "st")
SEED = os.environ.get("AOMI_SCHEMATHESIS_SEED", "20261128")
ADMIN_TOKEN = "schemathesis-admin-token-0123456789"


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    """The admin API on, and every generated request carrying its token: it is fuzzed too."""
    return {**env, "AOMI_ADMIN_TOKEN": ADMIN_TOKEN}


# About 70-100 s beside the other test worker: more than the suite's 120 s per test allows for
# (the schemathesis run itself is given 600 s).
@pytest.mark.timeout(660)
def test_no_server_errors_and_no_schema_violations(server: ServerProcess) -> None:
    result = subprocess.run(
        [
            ST,
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "20",
            "--exclude-path",
            "/api/updates",
            "--seed",
            SEED,
            "--header",
            f"Authorization: Bearer {ADMIN_TOKEN}",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    tail = result.stdout[-6000:]
    assert result.returncode == 0, tail
    counts = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert counts is not None, tail
    generated, passed = int(counts[1]), int(counts[2])
    assert generated == passed and generated > 500, tail
    print(f"schemathesis: {generated} test cases, all checks passed")


def test_the_document_declares_what_routes_read(server: ServerProcess) -> None:
    doc = httpx.get(f"{server.url}/openapi.json").json()
    chat = doc["paths"]["/api/chat"]["post"]
    names = {(p["in"], p["name"]) for p in chat["parameters"]}
    assert {("header", "X-Session-Id"), ("query", "message"), ("query", "user_state")} <= names
    assert "requestBody" in chat and "422" not in chat["responses"]
    assert {"400", "401", "403", "409", "413", "503"} <= set(chat["responses"])
    everything = str(doc)
    assert "HTTPValidationError" not in everything and "'422'" not in everything
    r = httpx.request("TRACE", f"{server.url}/api/sessions")
    assert r.status_code == 405 and {"GET", "POST"} <= set(r.headers["Allow"].split(", "))
