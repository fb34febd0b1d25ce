"""Ingest and search on SQLite (FTS5) and PostgreSQL (tsvector): idempotent by content hash,
changed files replaced, removed files dropped, every query scoped to its App."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aomi.apps.app import App
from aomi.db.tables import doc_chunks
from aomi.docs.service import Documents, IngestReport, search_terms
from aomi.docs.store import DocStore
from aomi.errors import InvalidInput


def _app(root: Path, name: str = "guide", globs: tuple[str, ...] = ("docs/**/*.md",)) -> App:
    return App(
        name=name,
        description="",
        public=True,
        preamble="p",
        default_model="offline",
        allowed_models=("offline",),
        tools=(),
        root=root,
        documents=globs,
    )


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


STAKING = (
    "# Staking\n\n## Unstaking\n\nWithdrawals take about 27 hours after the exit queue.\n\n"
    "## Rewards\n\nPaid every epoch.\n"
)
FEES = "# Fees\n\n## Gas\n\nA transfer uses 21,000 gas.\n"


@pytest.fixture
def documents(engine: AsyncEngine) -> Documents:
    return Documents(DocStore(engine))


async def _chunk_count(engine: AsyncEngine, app: str) -> int:
    async with engine.connect() as conn:
        return int(
            await conn.scalar(select(func.count()).select_from(doc_chunks).where(doc_chunks.c.app == app))
            or 0
        )


async def test_ingest_then_search_cites_the_right_chunk(documents: Documents, tmp_path: Path) -> None:
    _write(tmp_path, "docs/staking.md", STAKING)
    _write(tmp_path, "docs/sub/fees.md", FEES)
    app = _app(tmp_path)
    seen: list[str] = []
    report = await documents.ingest(app, progress=seen.append)
    assert report == IngestReport(added=2, chunks=3)
    assert sorted(seen) == ["docs/staking.md", "docs/sub/fees.md"]
    hits = await documents.search(app, "How long do withdrawals take?")
    assert (hits[0].path, hits[0].heading) == ("docs/staking.md", "Staking > Unstaking")
    assert "27 hours" in hits[0].body
    hits = await documents.search(app, "gas of a transfer")
    assert (hits[0].path, hits[0].heading) == ("docs/sub/fees.md", "Fees > Gas")
    assert await documents.search(app, "the of and") == []  # only stopwords: nothing to look for
    assert await documents.search(app, "zebra") == []


async def test_reingest_skips_unchanged_replaces_changed_drops_removed(
    documents: Documents, engine: AsyncEngine, tmp_path: Path
) -> None:
    staking = _write(tmp_path, "docs/staking.md", STAKING)
    fees = _write(tmp_path, "docs/fees.md", FEES)
    app = _app(tmp_path)
    await documents.ingest(app)
    assert await documents.ingest(app) == IngestReport(unchanged=2)

    staking.write_text(STAKING.replace("27 hours", "three days"))
    fees.unlink()
    report = await documents.ingest(app)
    assert report == IngestReport(replaced=1, removed=1, chunks=2)
    assert await documents.counts(app) == (1, 2)
    assert await _chunk_count(engine, "guide") == 2
    assert await documents.search(app, "27 hours") == []
    hits = await documents.search(app, "withdrawals three days")
    assert hits[0].body == "Withdrawals take about three days after the exit queue."
    assert await documents.search(app, "transfer gas") == []


async def test_explicit_paths_and_prune(documents: Documents, tmp_path: Path) -> None:
    _write(tmp_path, "docs/staking.md", STAKING)
    _write(tmp_path, "docs/fees.md", FEES)
    extra = _write(tmp_path, "extra/notes.txt", "Bridges settle in ten minutes.\n")
    app = _app(tmp_path)
    await documents.ingest(app)
    # Paths given by hand: added beside what is stored; nothing else is touched without --prune.
    assert await documents.ingest(app, [extra]) == IngestReport(added=1, chunks=1)
    assert await documents.counts(app) == (3, 4)
    hits = await documents.search(app, "bridges settle")
    assert (hits[0].path, hits[0].heading) == ("extra/notes.txt", "")
    # --prune: whatever this run did not cover goes.
    assert await documents.ingest(app, [tmp_path / "docs"], prune=True) == IngestReport(
        unchanged=2, removed=1
    )
    assert await documents.counts(app) == (2, 3)
    with pytest.raises(InvalidInput, match="no such file or directory"):
        await documents.ingest(app, [tmp_path / "missing.md"])


async def test_unreadable_files_are_reported_and_the_rest_ingested(
    documents: Documents, tmp_path: Path
) -> None:
    _write(tmp_path, "docs/ok.md", FEES)
    (tmp_path / "docs" / "bad.md").write_bytes(b"\xff\xfe\x00")
    report = await documents.ingest(_app(tmp_path))
    assert report.added == 1
    assert report.failed == [("docs/bad.md", "not UTF-8 text")]


async def test_apps_never_see_each_others_documents(documents: Documents, tmp_path: Path) -> None:
    a_root, b_root = tmp_path / "a", tmp_path / "b"
    _write(a_root, "docs/same.md", "# Vault\n\nThe alpha vault opens on Mondays.\n")
    _write(b_root, "docs/same.md", "# Vault\n\nThe beta vault opens on Fridays.\n")
    a, b = _app(a_root, "alpha"), _app(b_root, "beta")
    await documents.ingest(a)
    await documents.ingest(b)
    assert [h.body for h in await documents.search(a, "vault opens")] == ["The alpha vault opens on Mondays."]
    assert [h.body for h in await documents.search(b, "vault opens")] == ["The beta vault opens on Fridays."]
    assert await documents.search(b, "Mondays alpha") == []
    # Removing b's file leaves a's file of the same path alone.
    (b_root / "docs" / "same.md").unlink()
    assert (await documents.ingest(b)).removed == 1
    assert await documents.counts(a) == (1, 1)


async def test_many_files_in_several_batches(documents: Documents, tmp_path: Path) -> None:
    for i in range(60):
        sections = "".join(f"## Part {j}\n\nfile{i} part{j} token{i * 100 + j}\n\n" for j in range(20))
        _write(tmp_path, f"docs/f{i:02}.md", f"# File {i}\n\n{sections}")
    app = _app(tmp_path)
    report = await documents.ingest(app)
    assert (report.added, report.chunks) == (60, 1200)
    hits = await documents.search(app, "token4217")
    assert [(h.path, h.heading) for h in hits] == [("docs/f42.md", "File 42 > Part 17")]


def test_search_terms_are_plain_words() -> None:
    assert search_terms('How do I "unstake" ETH? OR NEAR(x) *') == ["unstake", "eth", "near", "x"]
    assert len(search_terms(" ".join(f"w{i}" for i in range(100)))) == 32
