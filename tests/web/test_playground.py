"""The playground at `/` in Chromium against a real server: chat with a streamed answer, a tool
card, a wallet request approved and one rejected, and the thread list (rename, archive, delete)."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.server_process import ServerProcess
from tests.web.conftest import screenshot_path

pytestmark = pytest.mark.e2e

WALLET = "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045"
RECEIVER = "0x1111111111111111111111111111111111111111"
OTHER_RECEIVER = "0x2222222222222222222222222222222222222222"


def open_playground(page: Page, wallet: str | None = WALLET, chain: str = "1") -> None:
    page.goto("/")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.get_by_label("App", exact=True)).to_have_value("default")
    if wallet:
        page.get_by_label("Wallet address").fill(wallet)
        page.get_by_label("Chain id").fill(chain)
        page.get_by_role("button", name="Apply wallet").click()
        expect(page.locator("#settings-status")).to_contain_text("on chain 1")


def send(page: Page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")  # Enter sends


def session_id(page: Page) -> str:
    sid: str = page.evaluate("localStorage.getItem('aomi.playground.session')")
    return sid


def test_chat_tool_card_and_threads(server: ServerProcess, page: Page) -> None:
    open_playground(page)
    send(page, "what is the price of ETH?")

    answer = page.locator("#messages .msg.agent").last
    expect(answer).to_contain_text("3,456.78")
    expect(page.locator("#chat-status")).to_have_text("idle")
    expect(page.locator("#messages .msg.user")).to_have_text(re.compile("what is the price of ETH"))

    card = page.locator("#messages details.tool-card")
    expect(card).to_have_count(1)
    expect(card.locator("summary")).to_contain_text("get_token_price")
    result = card.locator(".result")
    expect(result).to_be_hidden()
    card.locator("summary").click()
    expect(card).to_have_attribute("open", "")
    expect(result).to_be_visible()
    expect(result).to_contain_text("3,456.78")

    # The thread is listed for the wallet, under the title the server gave it.
    sid = session_id(page)
    thread = page.locator(f"#threads li[data-session-id='{sid}']")
    expect(thread).to_be_visible()
    title = httpx.get(f"{server.url}/api/sessions/{sid}", headers={"X-Session-Id": sid}).json()["title"]
    expect(page.locator("#chat-title")).to_have_text(title)
    expect(thread.locator(".thread-title")).to_have_text(title)
    page.screenshot(path=screenshot_path("playground_desktop"), full_page=True)

    # Phone width: the same conversation, the settings folded behind a button.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#messages .msg.agent").last).to_contain_text("3,456.78")
    expect(page.get_by_role("button", name="Settings and threads")).to_have_attribute(
        "aria-expanded", "false"
    )
    expect(page.get_by_label("Message", exact=True)).to_be_in_viewport()
    page.screenshot(path=screenshot_path("playground_phone"))
    page.get_by_role("button", name="Settings and threads").click()
    expect(page.get_by_label("Wallet address")).to_have_value(WALLET)
    page.set_viewport_size({"width": 1280, "height": 860})

    # The thread list: rename, archive, a new thread, delete.
    thread.get_by_role("button", name="Rename").click()
    page.get_by_label("New title").fill("My renamed thread")
    page.get_by_label("New title").press("Enter")
    expect(thread.locator(".thread-title")).to_have_text("My renamed thread")
    expect(page.locator("#chat-title")).to_have_text("My renamed thread")
    info = httpx.get(f"{server.url}/api/sessions/{sid}", headers={"X-Session-Id": sid}).json()
    assert info["title"] == "My renamed thread"

    thread.get_by_role("button", name="Archive").click()
    expect(thread.locator(".meta")).to_contain_text("archived")
    assert httpx.get(f"{server.url}/api/sessions/{sid}").json()["is_archived"] is True
    thread.get_by_role("button", name="Unarchive").click()
    expect(thread.locator(".meta")).not_to_contain_text("archived")

    # A second thread, then the first one deleted: the list and the server agree.
    page.get_by_role("button", name="New thread").click()
    expect(page.locator("#threads li")).to_have_count(2)
    expect(page.locator("#chat-title")).to_have_text("New Chat")
    expect(page.locator("#messages .msg, #messages .tool")).to_have_count(0)
    thread.get_by_role("button", name="Delete").click()
    thread.get_by_role("button", name="Delete for good").click()
    expect(page.locator(f"#threads li[data-session-id='{sid}']")).to_have_count(0)
    expect(page.locator("#threads li")).to_have_count(1)
    assert httpx.get(f"{server.url}/api/sessions/{sid}").status_code == 404


def test_wallet_requests_approved_and_rejected(server: ServerProcess, page: Page) -> None:
    open_playground(page)
    send(page, f"send 0.01 ETH to {RECEIVER}")

    card = page.locator(".wallet-card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Send 0.01 ETH")
    expect(card).to_contain_text("0.01 ETH (10000000000000000 wei)")
    expect(page.locator("#chat-status")).to_have_text("processing")
    page.screenshot(path=screenshot_path("playground_wallet_request"), full_page=True)
    card.get_by_role("button", name="Approve").click()
    expect(card).to_contain_text("Approved")

    # The turn resumes with the (made-up) hash and finishes.
    final = page.locator("#messages .msg.agent").last
    expect(final).to_contain_text("as sent")
    expect(page.locator("#chat-status")).to_have_text("idle")
    expect(page.locator("#messages .msg.system")).to_contain_text("transaction approved")

    sid = session_id(page)
    state = httpx.get(f"{server.url}/api/state", headers={"X-Session-Id": sid}).json()
    posted = [json.loads(m["content"]) for m in state["messages"] if m["sender"] == "system"]
    assert posted[0]["type"] == "wallet:tx_complete"
    assert posted[0]["payload"]["status"] == "success"
    assert re.fullmatch(r"0x[0-9a-f]{64}", posted[0]["payload"]["txHash"])
    assert posted[0]["payload"]["pending_tx_ids"] == [1]
    assert posted[0]["payload"]["txHash"] in state["messages"][-1]["content"]

    send(page, f"send 0.02 ETH to {OTHER_RECEIVER}")
    card = page.locator(".wallet-card")
    expect(card).to_contain_text("Wallet request 2")
    card.get_by_role("button", name="Reject").click()
    expect(card).to_contain_text("Rejected")
    expect(card).to_have_count(1)  # the answered request 1 went with the new message
    expect(page.locator("#messages .msg.agent").last).to_contain_text("rejected")
    expect(page.locator("#chat-status")).to_have_text("idle")
    state = httpx.get(f"{server.url}/api/state", headers={"X-Session-Id": sid}).json()
    rejected = json.loads([m for m in state["messages"] if m["sender"] == "system"][-1]["content"])
    assert rejected == {
        "type": "wallet:tx_complete",
        "payload": {"txHash": "", "status": "failed", "pending_tx_ids": [2]},
    }
