"""The admin page at `/admin` in Chromium against a real server with AOMI_ADMIN_TOKEN set: sign in,
Apps, issue a key (shown once, copied), use it on the API, find, open, export and delete its
session, the usage chart, rotate the key (the old one stops, the new one works), then revoke the
new key on the page and see the API refuse it."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.support.server_process import ServerProcess, wait_idle
from tests.web.conftest import ADMIN_TOKEN, KEYED_APP, screenshot_path

pytestmark = pytest.mark.e2e


def tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    expect(page.get_by_role("tab", name=name)).to_have_attribute("aria-selected", "true")


def chat(server: ServerProcess, sid: str, key: str | None) -> httpx.Response:
    headers = {"X-Session-Id": sid, **({"AOMI-APP-KEY": key} if key else {})}
    params = {"message": "what is the price of ETH?", "app": KEYED_APP}
    return httpx.post(f"{server.url}/api/chat", params=params, headers=headers)


def test_admin_issues_uses_and_revokes_a_key(
    server: ServerProcess, context: BrowserContext, page: Page
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page.goto("/admin")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")

    page.get_by_label("Admin token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_contain_text("not valid")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()

    # Apps: list and show.
    row = page.locator(f"#apps-rows tr[data-app='{KEYED_APP}']")
    expect(row).to_contain_text("keyed")
    expect(page.locator("#apps-rows tr[data-app='default']")).to_contain_text("public")
    row.get_by_role("button", name="Show").click()
    expect(page.locator("#app-detail")).to_contain_text("get_token_price")

    # Keys: issue one for the keyed App; it is shown once, with a Copy button.
    tab(page, "Keys")
    page.locator("#issue-apps").get_by_label(KEYED_APP).check()
    page.get_by_label("Label").fill("browser test")
    page.get_by_role("button", name="Issue key").click()
    box = page.locator("#new-key")
    expect(box).to_be_visible()
    key = page.locator("#new-key-value").input_value()
    assert key.startswith("sk-")
    box.get_by_role("button", name="Copy").click()
    expect(box.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key
    page.screenshot(path=screenshot_path("admin_new_key"), full_page=True)
    box.get_by_role("button", name="Done, hide it").click()
    expect(box).to_be_hidden()
    assert key not in page.content()
    key_row = page.locator("#keys-rows tr", has_text=key[:11])  # its prefix: a rotation adds a twin
    expect(key_row).to_contain_text("browser test")
    expect(key_row.locator(".badge")).to_have_text("active")

    # The key works on the API for its App; without it the App answers 401.
    sid = str(uuid.uuid4())
    assert chat(server, sid, key).status_code == 200
    assert "3,456.78" in wait_idle(server.url, sid, KEYED_APP, key)["messages"][-1]["content"]
    assert chat(server, str(uuid.uuid4()), None).status_code == 401

    # Sessions: find it by id, open it, export it.
    tab(page, "Sessions")
    page.get_by_label("Search").fill(sid)
    page.get_by_role("button", name="Search", exact=True).click()
    session_row = page.locator(f"#sessions-rows tr[data-session-id='{sid}']")
    expect(session_row).to_contain_text(KEYED_APP)
    expect(page.locator("#sessions-rows tr")).to_have_count(1)
    session_row.get_by_role("button", name="Open").click()
    detail = page.locator("#session-detail")
    expect(detail).to_contain_text(sid)
    expect(detail.locator(".transcript")).to_contain_text("3,456.78")
    with page.expect_download() as download:
        session_row.get_by_role("button", name="Export").click()
    exported = Path(download.value.path()).read_text()
    assert sid in exported and "3,456.78" in exported
    json.loads(exported)

    # Usage: the turn is counted and drawn.
    tab(page, "Usage")
    page.locator("#usage-app").select_option(KEYED_APP)
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#usage-rows")).to_contain_text(KEYED_APP)
    expect(page.locator("#usage-chart svg rect.bar").first).to_be_attached()
    expect(page.locator("#usage-caption")).to_contain_text("turns")
    page.screenshot(path=screenshot_path("admin_usage"), full_page=True)

    # Delete the session on the page: the API no longer knows it.
    tab(page, "Sessions")
    session_row.get_by_role("button", name="Delete").click()
    session_row.get_by_role("button", name="Confirm delete").click()
    expect(session_row).to_have_count(0)
    assert httpx.get(f"{server.url}/api/sessions/{sid}", headers={"AOMI-APP-KEY": key}).status_code == 404

    # Rotate it on the page with no grace: the new key (shown once) works, the old one stops.
    tab(page, "Keys")
    key_row.get_by_role("button", name="Rotate").click()
    key_row.get_by_label("Grace period of the old key").select_option("0s")
    key_row.get_by_role("button", name="Rotate now").click()
    expect(box).to_be_visible()
    rotated = page.locator("#new-key-value").input_value()
    assert rotated.startswith("sk-pri-") and rotated != key
    box.get_by_role("button", name="Done, hide it").click()
    expect(key_row.locator(".badge")).to_have_text("expired")
    assert chat(server, str(uuid.uuid4()), key).status_code == 401
    assert chat(server, str(uuid.uuid4()), rotated).status_code == 200

    # Revoke the new key on the page: the API refuses it (within the spec's second, on every replica).
    new_row = page.locator("#keys-rows tr", has_text=rotated[:11])
    expect(new_row.locator(".badge")).to_have_text("active")
    new_row.get_by_role("button", name="Revoke").click()
    new_row.get_by_role("button", name="Confirm revoke").click()
    expect(new_row.locator(".badge")).to_have_text("revoked")
    deadline = time.monotonic() + 5
    while (r := chat(server, str(uuid.uuid4()), rotated)).status_code != 401:
        assert time.monotonic() < deadline, r.text
        time.sleep(0.05)
    assert r.json()["error"]["code"] == "invalid_app_key"

    page.set_viewport_size({"width": 390, "height": 844})
    expect(new_row).to_be_visible()
    page.screenshot(path=screenshot_path("admin_phone"), full_page=True)
