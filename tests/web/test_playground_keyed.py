"""The playground with `AOMI_SESSION_ACCESS=key`: every route on a keyed App's session needs the
key, the event stream too, so the page reads `/api/updates` with fetch and the `AOMI-APP-KEY`
header (EventSource cannot send headers). An update posted meanwhile reaches the page live."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.server_process import ServerProcess
from tests.web.conftest import ADMIN_TOKEN, KEYED_APP
from tests.web.test_playground import send, session_id

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "AOMI_SESSION_ACCESS": "key"}


def test_live_updates_of_a_keyed_app_carry_the_key(server: ServerProcess, page: Page) -> None:
    issued = httpx.post(
        f"{server.url}/admin/api/keys",
        json={"apps": [KEYED_APP]},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert issued.status_code == 201, issued.text
    key = issued.json()["key"]

    page.goto("/")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.get_by_label("App key").fill(key)
    page.get_by_role("button", name="Use key").click()
    page.get_by_label("App", exact=True).select_option(KEYED_APP)
    send(page, "what is the price of ETH?")
    expect(page.locator("#messages .msg.agent").last).to_contain_text("3,456.78")
    expect(page.locator("#connection")).to_have_text("live")

    sid = session_id(page)
    url, message = f"{server.url}/api/system", "A notice from the operator"
    # In this mode the session id alone opens nothing on a keyed App's session.
    refused = httpx.post(url, params={"message": "no key"}, headers={"X-Session-Id": sid})
    assert refused.status_code == 403, refused.text
    posted = httpx.post(url, params={"message": message}, headers={"X-Session-Id": sid, "AOMI-APP-KEY": key})
    assert posted.status_code == 200, posted.text
    expect(page.locator("#settings-status")).to_contain_text(message)
