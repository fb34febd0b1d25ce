"""The pages are served from the package with a policy they keep: no inline script or style,
nothing from another origin, every file they name served."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from aomi.api.pages import PAGE_CSP, STATIC_DIR
from tests.support.harness import Harness


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.problems.append(f"<{tag} {name}=...>: inline code or style")
            if name in {"src", "href"} and value and not value.startswith(("#", "data:")):
                self.refs.append(value)
        if tag == "style":
            self.problems.append("<style>: inline style")
        self._in_script = tag == "script" and not named.get("src")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("<script> without src: inline code")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


async def test_pages_and_their_files_are_served_under_the_page_policy(server: Harness) -> None:
    r = await server.client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == PAGE_CSP
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    pages = sorted(STATIC_DIR.glob("*.html"))
    assert {p.name for p in pages} >= {"playground.html", "admin.html"}
    for page in pages:
        parser = _Refs()
        parser.feed(page.read_text())
        assert parser.problems == [], (page.name, parser.problems)
        for ref in parser.refs:
            if ref in {"/", "/admin"}:  # a link to the other page
                continue
            assert ref.startswith("/static/"), (page.name, ref)  # this server's own files only
            served = await server.client.get(ref)
            assert served.status_code == 200, (page.name, ref)
            assert served.headers["content-security-policy"] == PAGE_CSP
    for script in STATIC_DIR.glob("*.js"):
        text = script.read_text()
        assert not re.search(r"\beval\(|new Function\(", text), script.name
        # No other origin (XML namespace names are names, not addresses).
        assert not re.search(r"https?://(?!www\.w3\.org/)", text), script.name
    assert (await server.client.get("/static/nope.js")).status_code == 404
    assert (await server.client.get("/static/../pages.py")).status_code == 404
