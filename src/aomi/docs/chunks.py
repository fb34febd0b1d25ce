"""Files to chunks: Markdown, text, HTML and (when pypdf is installed) PDF, split along headings.

A chunk is one section under its heading path ("Staking > Unstaking"), split further at
paragraphs when longer than `MAX_CHARS`, so a search result is a passage a person can read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

MAX_CHARS = 1200
HEADING_SEP = " > "
TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".text", ".rst", ".html", ".htm", ".pdf"}

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^(```|~~~)")


@dataclass(frozen=True)
class Chunk:
    heading: str
    """The heading path ("Guide > Staking > Unstaking"); empty for text before any heading."""
    body: str


class UnreadableDocument(Exception):
    """The file cannot be read as a document; the message says why."""


def markdown_chunks(text: str) -> list[Chunk]:
    """Sections by Markdown heading (`#` to `######`, not inside fenced code), each split to size."""
    chunks: list[Chunk] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    fenced = False

    def flush() -> None:
        heading = HEADING_SEP.join(title for _, title in stack)
        chunks.extend(Chunk(heading, part) for part in split_to_size("\n".join(lines)))
        lines.clear()

    for line in text.splitlines():
        if _FENCE.match(line.lstrip()):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match is None:
            lines.append(line)
            continue
        flush()
        level = len(match.group(1))
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, match.group(2).strip()))
    flush()
    return chunks


def split_to_size(text: str, limit: int = MAX_CHARS) -> list[str]:
    """Paragraphs packed into pieces of at most ``limit`` characters; a longer paragraph is cut at
    sentence ends or spaces."""
    paragraphs = [p.strip() for p in re.split(r"\n[ \t]*\n", text) if p.strip()]
    pieces: list[str] = []
    current = ""
    for paragraph in paragraphs:
        for part in _cut(paragraph, limit):
            if current and len(current) + 2 + len(part) > limit:
                pieces.append(current)
                current = ""
            current = f"{current}\n\n{part}" if current else part
    if current:
        pieces.append(current)
    return pieces


def _cut(paragraph: str, limit: int) -> list[str]:
    out: list[str] = []
    rest = paragraph
    while len(rest) > limit:
        window = rest[:limit]
        at = max(window.rfind(". "), window.rfind("\n"))
        if at < limit // 2:
            at = window.rfind(" ")
        if at <= 0:
            at = limit - 1
        out.append(rest[: at + 1].strip())
        rest = rest[at + 1 :].strip()
    if rest:
        out.append(rest)
    return out


class _HtmlText(HTMLParser):
    """HTML to Markdown-ish text: headings become `#` lines, block elements paragraph breaks."""

    BLOCKS = frozenset(
        {"p", "div", "li", "tr", "br", "section", "article", "pre", "blockquote", "table", "ul", "ol"}
    )
    SKIP = frozenset({"script", "style", "head", "noscript", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.out.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in self.BLOCKS:
            self.out.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif re.fullmatch(r"h[1-6]", tag) or tag in self.BLOCKS:
            self.out.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(re.sub(r"\s+", " ", data))


def html_to_markdown(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    text = "".join(parser.out)
    # A heading line must stay one line: the parser put its text right after the `#`s.
    return "\n".join(line.strip() for line in text.splitlines())


def _pdf_chunks(path: Path) -> list[Chunk]:
    try:
        from pypdf import PdfReader  # optional: `pip install pypdf` enables PDF documents
    except ImportError:
        raise UnreadableDocument("PDF documents need the pypdf package (pip install pypdf)") from None
    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:
        raise UnreadableDocument(f"not a readable PDF: {type(exc).__name__}: {exc}") from None
    return [Chunk(f"Page {n}", part) for n, text in enumerate(pages, 1) for part in split_to_size(text)]


def read_chunks(path: Path, data: bytes) -> list[Chunk]:
    """The chunks of one file (its bytes already read, so they are hashed and chunked as one)."""
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        raise UnreadableDocument(
            f"unsupported file type {suffix or '(none)'} (known: {', '.join(sorted(TEXT_SUFFIXES))})"
        )
    if suffix == ".pdf":
        return _pdf_chunks(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableDocument("not UTF-8 text") from None
    if "\x00" in text:
        raise UnreadableDocument("holds NUL characters: not a text file")
    if suffix in (".html", ".htm"):
        return markdown_chunks(html_to_markdown(text))
    if suffix in (".md", ".markdown"):
        return markdown_chunks(text)
    return [Chunk("", part) for part in split_to_size(text)]
