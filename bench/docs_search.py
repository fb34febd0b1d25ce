"""Ingest throughput and search latency of App documents, on SQLite (FTS5) and PostgreSQL (tsvector).

A seeded generator writes a synthetic document set into a temporary App directory: Markdown files
of `##` sections (each 400-900 characters, so one chunk apiece) whose sentences mix common English
words with a Zipf-distributed vocabulary of a few thousand made-up words, so searches are
selective. Per database, in one run:

- ingest: `Documents.ingest` into an empty store (chunks/s); again with nothing changed (seconds:
  every file is read and hashed, nothing written); again after rewriting 10 % of the files
  (chunks/s of the rewritten part). The reports and `counts()` are checked against the set.
  Baseline: the same chunk rows (same columns, same `(app, path)` index, no full-text index) bulk
  inserted into a scratch table in transactions of 1000 rows, as the store writes them (rows/s).
- search: `Documents.search(app, q, 5)` for queries of 2-4 words taken from one generated chunk,
  some phrased as questions (median and p99 ms, the fraction with a hit, the fraction whose
  source chunk is among the hits). Baseline: a primary-key lookup
  `SELECT body FROM doc_chunks WHERE id = :id` on the same engine, one connection checkout each
  as a search does, interleaved with the searches.

PostgreSQL is the local server (127.0.0.1:5432, user postgres, trust auth); a fresh database is
created for the run and dropped afterwards. It is skipped when unreachable (an error with
`--db postgresql`).

    uv run python -m bench.docs_search [--files 500] [--sections 11] [--queries 400]
        [--db sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy import MetaData, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import quoted_name

from aomi.apps.app import App
from aomi.db.engine import create_engine, upgrade
from aomi.db.tables import doc_chunks
from aomi.docs.chunks import MAX_CHARS, markdown_chunks
from aomi.docs.service import Documents, IngestReport
from aomi.docs.store import DocStore

SEED = 20240611
APP = "bench-docs"
POSTGRES = "postgres@127.0.0.1:5432"
BATCH_ROWS = 1000
CHANGED_FRACTION = 0.10
WARMUP_QUERIES = 30
VOCABULARY = 3000
COMMON = (
    "the", "of", "and", "to", "in", "is", "it", "that", "for", "on", "with", "as", "are", "be",
    "this", "by", "from", "at", "or", "can", "which", "when", "each", "will", "has", "not", "its",
    "all", "more", "one", "use", "used", "value", "new", "data", "after", "before", "then", "also",
    "only", "any", "should", "must", "may", "between", "other", "first", "same", "most", "set",
    "over", "time", "into",
)  # fmt: skip
QUESTIONS = ("how does {} {} work?", "what is the {} of {}?", "where can I find {} {} {}?", "why {} {}")


def make_vocabulary(rng: random.Random, size: int) -> list[str]:
    """``size`` distinct pronounceable made-up words of 2-4 syllables."""
    onsets = ["b", "c", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st", "tr"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ou"]
    codas = ["", "", "n", "r", "s", "l", "m", "x"]
    words: dict[str, None] = {}
    while len(words) < size:
        syllables = rng.randint(2, 4)
        word = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(syllables)) + rng.choice(codas)
        words[word] = None
    return list(words)


class Writer:
    """Sentences, sections and files from a seeded generator over a Zipf-weighted vocabulary."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words = make_vocabulary(random.Random(SEED), VOCABULARY)
        self.weights = [1 / (rank + 1) ** 1.05 for rank in range(len(self.words))]

    def content_words(self, count: int) -> list[str]:
        return self.rng.choices(self.words, self.weights, k=count)

    def sentence(self) -> str:
        length = self.rng.randint(8, 18)
        picked = [
            self.rng.choice(COMMON) if self.rng.random() < 0.4 else self.content_words(1)[0]
            for _ in range(length)
        ]
        return " ".join(picked).capitalize() + "."

    def section_body(self) -> str:
        target = self.rng.randint(400, 900)
        paragraphs: list[str] = []
        size = 0
        while size < target:
            sentences: list[str] = []
            for _ in range(self.rng.randint(2, 4)):
                sentences.append(self.sentence())
                size += len(sentences[-1]) + 1
                if size >= target:
                    break
            paragraphs.append(" ".join(sentences))
        return "\n\n".join(paragraphs)

    def document(self, title: str, sections: int) -> tuple[str, list[tuple[str, str]]]:
        """A Markdown file (`#` title, `##` sections) and its expected (heading path, body) chunks."""
        parts = [f"# {title}", ""]
        expected: list[tuple[str, str]] = []
        for _ in range(sections):
            heading = " ".join(self.content_words(self.rng.randint(1, 3))).capitalize()
            body = self.section_body()
            assert len(body) <= MAX_CHARS, "a section must stay one chunk"
            parts += [f"## {heading}", "", body, ""]
            expected.append((f"{title} > {heading}", body))
        return "\n".join(parts), expected


@dataclass
class DocSet:
    root: Path
    sections: int
    chunks: dict[str, list[tuple[str, str]]]
    """Stored path -> its (heading path, body) chunks, in order."""

    @property
    def total(self) -> int:
        return sum(len(c) for c in self.chunks.values())

    def rows(self) -> list[dict[str, object]]:
        """The `doc_chunks` rows ingest writes for the set."""
        return [
            {"app": APP, "path": path, "ordinal": i, "heading": heading, "body": body}
            for path, chunks in self.chunks.items()
            for i, (heading, body) in enumerate(chunks)
        ]


def write_file(docs: DocSet, writer: Writer, path: str, title: str) -> None:
    content, expected = writer.document(title, docs.sections)
    got = [(c.heading, c.body) for c in markdown_chunks(content)]
    assert got == expected, f"{path}: the chunker did not split the generated file by section"
    file = docs.root / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(content, encoding="utf-8")
    docs.chunks[path] = expected


def generate(directory: str, files: int, sections: int) -> DocSet:
    writer = Writer(SEED)
    docs = DocSet(Path(directory).resolve(), sections, {})
    for n in range(files):
        title = " ".join(writer.content_words(2)).title() + f" {n}"
        write_file(docs, writer, f"docs/part{n % 10}/file{n:04d}.md", title)
    return docs


def rewrite(docs: DocSet, fraction: float) -> list[str]:
    """Rewrite a seeded ``fraction`` of the files with new content of as many sections."""
    rng = random.Random(SEED + 1)
    paths = rng.sample(sorted(docs.chunks), max(1, round(len(docs.chunks) * fraction)))
    writer = Writer(SEED + 2)
    for path in paths:
        write_file(docs, writer, path, docs.chunks[path][0][0].split(" > ")[0] + " revised")
    return paths


def make_queries(docs: DocSet, count: int) -> list[tuple[str, str, str]]:
    """(query, source path, source heading): 2-4 distinct words of one chunk, a third as questions."""
    rng = random.Random(SEED + 3)
    every = [(path, heading, body) for path, chunks in docs.chunks.items() for heading, body in chunks]
    queries: list[tuple[str, str, str]] = []
    while len(queries) < count:
        path, heading, body = rng.choice(every)
        words = [w for w in dict.fromkeys(w.strip(".").lower() for w in body.split()) if w not in COMMON]
        if rng.random() < 1 / 3:
            template = rng.choice(QUESTIONS)
            query = template.format(*rng.sample(words, template.count("{}")))
        else:
            query = " ".join(rng.sample(words, rng.randint(2, 4)))
        queries.append((query, path, heading))
    return queries


def quantile(samples: Sequence[float], percent: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[percent - 1]


@dataclass
class Result:
    db: str
    chunks: int
    ingest_cps: float
    baseline_rps: float
    unchanged_s: float
    changed_cps: float
    search_ms: list[float]
    lookup_ms: list[float]
    hit_rate: float
    source_rate: float


def expect(report: IngestReport, what: str, **counts: int) -> None:
    got = {k: getattr(report, k) for k in counts}
    if got != counts or report.failed:
        raise SystemExit(f"{what}: the ingest report says {report}, expected {counts} and no failures")


async def baseline_insert(engine: AsyncEngine, rows: list[dict[str, object]]) -> float:
    """Rows/s of a plain bulk insert into a scratch copy of `doc_chunks` without full-text index."""
    meta = MetaData()
    scratch = doc_chunks.to_metadata(meta, name="bench_docs_baseline")
    for index in scratch.indexes:
        index.name = quoted_name(f"ix_bench_docs_baseline_{index.name}", None)  # names are per database
    async with engine.begin() as conn:
        await conn.run_sync(meta.create_all)
    started = time.perf_counter()
    for start in range(0, len(rows), BATCH_ROWS):
        async with engine.begin() as conn:
            await conn.execute(insert(scratch), rows[start : start + BATCH_ROWS])
    seconds = time.perf_counter() - started
    async with engine.begin() as conn:
        stored = await conn.scalar(select(func.count()).select_from(scratch))
        await conn.run_sync(meta.drop_all)
    assert stored == len(rows), f"the baseline stored {stored} rows, not {len(rows)}"
    return len(rows) / seconds


async def timed_ingest(documents: Documents, app: App) -> tuple[IngestReport, float]:
    started = time.perf_counter()
    report = await documents.ingest(app)
    return report, time.perf_counter() - started


async def lookup(engine: AsyncEngine, chunk_id: int) -> str | None:
    async with engine.connect() as conn:
        body: str | None = await conn.scalar(
            text("SELECT body FROM doc_chunks WHERE id = :id"), {"id": chunk_id}
        )
        return body


async def measure(db: str, engine: AsyncEngine, files: int, sections: int, queries: int) -> Result:
    await upgrade(engine)
    documents = Documents(DocStore(engine))
    with tempfile.TemporaryDirectory(prefix="aomi-bench-docs-") as tmp:
        docs = generate(tmp, files, sections)
        total = docs.total
        app = App(
            name=APP,
            description="documents benchmark",
            public=True,
            preamble="",
            default_model="offline",
            allowed_models=("offline",),
            tools=(),
            root=docs.root,
            documents=("docs/**/*.md",),
        )
        async with engine.connect() as conn:  # open the pool before anything is timed
            await conn.execute(text("SELECT 1"))

        baseline_rps = await baseline_insert(engine, docs.rows())

        report, seconds = await timed_ingest(documents, app)
        expect(report, "first ingest", added=files, replaced=0, unchanged=0, removed=0, chunks=total)
        ingest_cps = total / seconds

        report, unchanged_s = await timed_ingest(documents, app)
        expect(report, "unchanged re-ingest", added=0, replaced=0, unchanged=files, removed=0, chunks=0)

        changed = rewrite(docs, CHANGED_FRACTION)
        changed_chunks = sum(len(docs.chunks[p]) for p in changed)
        report, seconds = await timed_ingest(documents, app)
        expect(
            report,
            "changed re-ingest",
            added=0,
            replaced=len(changed),
            unchanged=files - len(changed),
            removed=0,
            chunks=changed_chunks,
        )
        changed_cps = changed_chunks / seconds
        stored = await documents.counts(app)
        if stored != (files, docs.total):
            raise SystemExit(f"{db}: {stored} (files, chunks) stored, expected {(files, docs.total)}")

        async with engine.connect() as conn:
            ids = list(await conn.scalars(select(doc_chunks.c.id).where(doc_chunks.c.app == APP)))
        rng = random.Random(SEED + 4)
        plan = make_queries(docs, queries + WARMUP_QUERIES)
        for query, _, _ in plan[:WARMUP_QUERIES]:
            await documents.search(app, query, 5)
            await lookup(engine, rng.choice(ids))
        search_ms: list[float] = []
        lookup_ms: list[float] = []
        hits = sources = 0
        for query, path, heading in plan[WARMUP_QUERIES:]:
            started = time.perf_counter()
            found = await documents.search(app, query, 5)
            search_ms.append((time.perf_counter() - started) * 1000)
            hits += bool(found)
            sources += any(h.path == path and h.heading == heading for h in found)
            chunk_id = rng.choice(ids)
            started = time.perf_counter()
            body = await lookup(engine, chunk_id)
            lookup_ms.append((time.perf_counter() - started) * 1000)
            assert body is not None
    return Result(
        db,
        total,
        ingest_cps,
        baseline_rps,
        unchanged_s,
        changed_cps,
        search_ms,
        lookup_ms,
        hits / queries,
        sources / queries,
    )


@asynccontextmanager
async def sqlite_engine() -> AsyncIterator[AsyncEngine]:
    with tempfile.TemporaryDirectory(prefix="aomi-bench-docs-db-") as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'docs.db'}")
        try:
            yield engine
        finally:
            await engine.dispose()


async def postgres_reachable() -> str | None:
    """None when the local PostgreSQL answers, else why not."""
    try:
        conn = await asyncpg.connect(f"postgresql://{POSTGRES}/postgres", timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(f"postgresql://{POSTGRES}/postgres", timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@asynccontextmanager
async def postgres_engine() -> AsyncIterator[AsyncEngine]:
    name = f"aomi_bench_docs_{os.getpid()}"
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        engine = create_engine(f"postgresql+asyncpg://{POSTGRES}/{name}")
        try:
            yield engine
        finally:
            await engine.dispose()
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def detail(r: Result, files: int, sections: int) -> None:
    search_med, lookup_med = statistics.median(r.search_ms), statistics.median(r.lookup_ms)
    print(f"\n{r.db}: {files} files x {sections} sections = {r.chunks} chunks")
    print(
        f"  ingest {r.ingest_cps:,.0f} chunks/s; baseline bulk insert {r.baseline_rps:,.0f} rows/s; "
        f"ratio {r.ingest_cps / r.baseline_rps:.2f}"
    )
    print(
        f"  re-ingest unchanged {r.unchanged_s:.3f} s; "
        f"{CHANGED_FRACTION:.0%} of files changed {r.changed_cps:,.0f} chunks/s"
    )
    print(
        f"  search ({len(r.search_ms)} queries) median {search_med:.2f} ms "
        f"p99 {quantile(r.search_ms, 99):.2f} ms; "
        f"baseline pk lookup median {lookup_med:.2f} ms p99 {quantile(r.lookup_ms, 99):.2f} ms; "
        f"ratio {search_med / lookup_med:.1f}"
    )
    print(f"  queries with a hit {r.hit_rate:.1%}; source chunk in the top 5 {r.source_rate:.1%}")


def table(results: list[Result]) -> None:
    head = (
        f"{'db':<10} {'chunks':>6} {'ingest/s':>9} {'base/s':>9} {'ratio':>5} {'unch s':>6} "
        f"{'chg/s':>8} {'search med/p99':>15} {'pk med/p99':>12} {'ratio':>6} {'hits':>6} {'src@5':>6}"
    )
    print(f"\n{head}")
    for r in results:
        search_med, lookup_med = statistics.median(r.search_ms), statistics.median(r.lookup_ms)
        search = f"{search_med:.2f}/{quantile(r.search_ms, 99):.2f}"
        lookup_ = f"{lookup_med:.2f}/{quantile(r.lookup_ms, 99):.2f}"
        print(
            f"{r.db:<10} {r.chunks:>6} {r.ingest_cps:>9,.0f} {r.baseline_rps:>9,.0f} "
            f"{r.ingest_cps / r.baseline_rps:>5.2f} {r.unchanged_s:>6.3f} {r.changed_cps:>8,.0f} "
            f"{search:>15} {lookup_:>12} {search_med / lookup_med:>6.1f} "
            f"{r.hit_rate:>6.1%} {r.source_rate:>6.1%}"
        )
    print(
        "(ingest ratio: ingest/baseline per second; search ratio: search/pk-lookup medians; times in ms; "
        "hits: queries with a hit; src@5: source chunk among the 5 hits)"
    )


async def run(args: argparse.Namespace) -> int:
    results: list[Result] = []
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for db in dbs:
        if db == "sqlite":
            async with sqlite_engine() as engine:
                results.append(await measure("sqlite", engine, args.files, args.sections, args.queries))
        else:
            why = await postgres_reachable()
            if why is not None:
                print(f"PostgreSQL at {POSTGRES} is unreachable ({why}): skipped", flush=True)
                if args.db == "postgresql":
                    return 1
                continue
            async with postgres_engine() as engine:
                results.append(await measure("postgresql", engine, args.files, args.sections, args.queries))
        detail(results[-1], args.files, args.sections)
    if results:
        table(results)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=500, help="Markdown files generated")
    parser.add_argument("--sections", type=int, default=11, help="sections (chunks) per file")
    parser.add_argument("--queries", type=int, default=400, help="measured searches (and pk lookups)")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    if args.files < 1 or args.sections < 1 or args.queries < 2:
        parser.error("--files and --sections must be at least 1, --queries at least 2")
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
