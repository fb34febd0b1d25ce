"""Reading and chunking documents: Markdown headings, HTML, text, PDF, and sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from aomi.docs.chunks import MAX_CHARS, Chunk, UnreadableDocument, markdown_chunks, read_chunks, split_to_size


def test_markdown_sections_follow_heading_paths() -> None:
    text = (
        "Intro before any heading.\n\n# Guide\n\nTop text.\n\n## Staking\n\nStake it.\n\n"
        "### Unstaking ###\n\nWait a while.\n\n## Fees\n\nPay gas.\n\n# Other\n\nElse.\n"
    )
    assert markdown_chunks(text) == [
        Chunk("", "Intro before any heading."),
        Chunk("Guide", "Top text."),
        Chunk("Guide > Staking", "Stake it."),
        Chunk("Guide > Staking > Unstaking", "Wait a while."),
        Chunk("Guide > Fees", "Pay gas."),
        Chunk("Other", "Else."),
    ]


def test_headings_inside_code_fences_are_text_and_empty_sections_are_dropped() -> None:
    text = "# A\n\n```sh\n# not a heading\necho hi\n```\n\n# Empty\n\n# B\n\nb\n"
    chunks = markdown_chunks(text)
    assert [c.heading for c in chunks] == ["A", "B"]
    assert "# not a heading" in chunks[0].body


def test_long_sections_split_at_paragraphs_then_sentences() -> None:
    paragraph = "This sentence is long enough to matter in a test. " * 10
    pieces = split_to_size("\n\n".join([paragraph] * 5))
    assert len(pieces) > 1
    assert all(len(p) <= MAX_CHARS for p in pieces)
    assert " ".join(pieces).split() == ("\n\n".join([paragraph] * 5)).split()  # nothing lost
    one_word = "x" * (MAX_CHARS * 2 + 5)
    assert [len(p) for p in split_to_size(one_word)] == [MAX_CHARS, MAX_CHARS, 5]


def test_html_headings_become_sections_and_scripts_are_skipped() -> None:
    html = (
        "<html><head><title>t</title><style>p{}</style></head><body>"
        "<h1>Wallets</h1><p>Keep keys &amp; seeds offline.</p><script>alert(1)</script>"
        "<h2>Hardware</h2><ul><li>Check the screen.</li><li>Verify the address.</li></ul></body></html>"
    )
    chunks = read_chunks(Path("w.html"), html.encode())
    assert chunks == [
        Chunk("Wallets", "Keep keys & seeds offline."),
        Chunk("Wallets > Hardware", "Check the screen.\n\nVerify the address."),
    ]


def test_text_files_have_no_heading() -> None:
    assert read_chunks(Path("notes.txt"), b"one\n\ntwo\n") == [Chunk("", "one\n\ntwo")]


def _pdf(text: str) -> bytes:
    """A one-page PDF with ``text`` in Helvetica, byte offsets computed for the xref table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_pdf_pages_are_read(tmp_path: Path) -> None:
    path = tmp_path / "guide.pdf"
    path.write_bytes(_pdf("Bridges settle in ten minutes."))
    assert read_chunks(path, path.read_bytes()) == [Chunk("Page 1", "Bridges settle in ten minutes.")]


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("a.bin", b"x", "unsupported file type .bin"),
        ("a.md", b"\xff\xfe\x00bad", "not UTF-8 text"),
        ("a.txt", b"a\x00b", "holds NUL characters"),
        ("a.pdf", b"%PDF-1.4 garbage", "not a readable PDF"),
    ],
)
def test_unreadable_files_say_why(tmp_path: Path, name: str, data: bytes, error: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UnreadableDocument, match=error):
        read_chunks(path, data)
