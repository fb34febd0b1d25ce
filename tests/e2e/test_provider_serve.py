"""End to end with a provider model: a real `aomi serve` configured through `AOMI_MODELS` and the
provider's environment variables, talking to the scripted fake OpenAI server over loopback; a
tool turn, a restart that keeps the model history, a client's own key, and `aomi usage`."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import AOMI, ServerProcess, wait_idle
from tests.support.providers import FakeProvider, Reply, ToolCall

pytestmark = pytest.mark.e2e

SERVER_KEY = "sk-e2e-server-" + "k" * 30
CLIENT_KEY = "sk-e2e-client-" + "c" * 30
PRICE_CALL = ToolCall("get_token_price", {"symbol": "ETH"})


@pytest.fixture
def provider_env(env: dict[str, str], fake: FakeProvider) -> dict[str, str]:
    return {
        **env,
        "AOMI_MODELS": "gpt=openai:gpt-4o",
        "OPENAI_API_KEY": SERVER_KEY,
        "OPENAI_BASE_URL": fake.openai_base_url,
    }


def _titled(url: str, sid: str, title: str) -> None:
    deadline = time.monotonic() + 15
    while httpx.get(f"{url}/api/sessions/{sid}").json()["title"] != title:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def _chat(url: str, sid: str, message: str) -> dict[str, Any]:
    r = httpx.post(f"{url}/api/chat", params={"message": message}, headers={"X-Session-Id": sid})
    assert r.status_code == 200, r.text
    return wait_idle(url, sid)


def test_a_provider_turn_survives_a_restart_and_is_counted(
    provider_env: dict[str, str], fake: FakeProvider, tmp_path: Any
) -> None:
    server = ServerProcess(provider_env, int(provider_env["AOMI_PORT"]), tmp_path / "server.log")
    server.start()
    try:
        # The built-in default App starts on the first model the server holds a key for.
        models = httpx.get(f"{server.url}/api/control/models").json()
        assert models == ["gpt", "offline"], models
        sid = str(uuid.uuid4())
        fake.script[:] = [
            Reply(
                tool_calls=[ToolCall("get_token_price", {"symbol": "ETH"})], input_tokens=12, output_tokens=4
            ),
            Reply(text=["ETH is ", "$3,456.78."], input_tokens=30, output_tokens=6),
        ]
        body = _chat(server.url, sid, "What is ETH worth?")
        assert body["status"] == "idle"
        agent = [(m["content"], m["tool_result"]) for m in body["messages"] if m["sender"] == "agent"]
        assert agent[-1] == ("ETH is $3,456.78.", None)
        assert agent[0][1] is not None and "3,456.78" in agent[0][1][1]

        _titled(server.url, sid, fake.title)  # the title request ends before the restart
        server.stop()
        server.start()
        fake.script[:] = [Reply(text=["Still $3,456.78."], input_tokens=50, output_tokens=5)]
        assert _chat(server.url, sid, "And now?")["status"] == "idle"
        after_restart = fake.requests[-1]
        assert after_restart.tool_calls() == [("get_token_price", {"symbol": "ETH"})]
        assert after_restart.auth() == SERVER_KEY

        r = httpx.post(
            f"{server.url}/api/control/provider-keys",
            json={"provider": "openai", "api_key": CLIENT_KEY},
            headers={"X-Session-Id": sid},
        )
        assert r.status_code == 200, r.text
        fake.script[:] = [Reply(text=["On your key."], input_tokens=60, output_tokens=3)]
        _chat(server.url, sid, "Use my key")
        assert fake.requests[-1].auth() == CLIENT_KEY
    finally:
        server.stop()

    out = subprocess.run(
        [AOMI, "usage", "--json"], env=provider_env, capture_output=True, text=True, check=True, timeout=60
    )
    [total] = json.loads(out.stdout)
    titles = fake.title_requests
    assert len(titles) == 1  # after the first exchange; billed with the first turn
    assert (total["app"], total["model_label"], total["provider"]) == ("default", "gpt", "openai")
    assert (total["turns"], total["requests"], total["tool_calls"], total["errors"]) == (3, 4 + 1, 1, 0)
    assert (total["input_tokens"], total["output_tokens"]) == (12 + 30 + 50 + 60 + 3, 4 + 6 + 5 + 3 + 2)
    assert CLIENT_KEY not in (tmp_path / "server.log").read_text()
