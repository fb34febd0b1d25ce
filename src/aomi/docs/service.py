"""The documents service: ingest an App's files (idempotent by content hash) and search them.

Ingest reads the App's `documents` globs (or the paths given), skips files whose SHA-256 is
unchanged, replaces the chunks of changed ones, and drops stored files that no longer exist;
`prune` also drops stored files that this run did not cover.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aomi.apps.app import App
from aomi.docs.chunks import TEXT_SUFFIXES, UnreadableDocument, read_chunks
from aomi.docs.store import DocStore, FileChunks, Hit
from aomi.errors import InvalidInput
from aomi.timeutil import now_ms

BATCH_CHUNKS = 1000
"""Chunks written per transaction while ingesting."""
ANALYZE_AFTER_CHUNKS = 200
"""An ingest that wrote at least this many chunks refreshes the planner's statistics."""
QUERY_TERMS_MAX = 32
_WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "my",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


@dataclass
class IngestReport:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    """Chunks written by this run."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(path, why) of files that could not be read; the rest were ingested."""


def search_terms(query: str) -> list[str]:
    """The words of a question worth searching for: lowercased, no stopwords, at most 32."""
    words = [w.lower() for w in _WORD.findall(query)]
    kept = [w for w in dict.fromkeys(words) if w not in STOPWORDS and not w.startswith("_")]
    return kept[:QUERY_TERMS_MAX]


def stored_path(app: App, path: Path) -> str:
    """How a file is named in the store and in citations: relative to the App's directory."""
    resolved = path.resolve()
    if app.root is not None and resolved.is_relative_to(app.root):
        return resolved.relative_to(app.root).as_posix()
    return resolved.as_posix()


def discover(app: App, paths: Sequence[Path] | None = None) -> list[Path]:
    """The files to ingest: the App's `documents` globs, or the given files and directories
    (directories recursively, known document types only). InvalidInput for a path that is missing."""
    found: dict[Path, None] = {}
    if paths:
        for path in paths:
            if path.is_dir():
                found.update(dict.fromkeys(sorted(p for p in path.rglob("*") if _document(p))))
            elif path.is_file():
                found[path] = None
            else:
                raise InvalidInput(f"{path}: no such file or directory")
    else:
        assert app.root is not None or not app.documents
        for pattern in app.documents:
            found.update(dict.fromkeys(sorted(p for p in app.root.glob(pattern) if p.is_file())))  # type: ignore[union-attr]
    return list(found)


def _document(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in TEXT_SUFFIXES


class Documents:
    def __init__(self, store: DocStore) -> None:
        self.store = store

    async def ingest(
        self,
        app: App,
        paths: Sequence[Path] | None = None,
        *,
        prune: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> IngestReport:
        """Bring the stored documents of ``app`` in line with its files; ``progress`` is called
        once per file read."""
        files = discover(app, paths)
        stored = await self.store.hashes(app.name)
        report = IngestReport()
        seen: set[str] = set()
        batch: list[FileChunks] = []
        pending = 0
        for path in files:
            name = stored_path(app, path)
            seen.add(name)
            try:
                data = path.read_bytes()
                digest = hashlib.sha256(data).hexdigest()
                if stored.get(name) == digest:
                    report.unchanged += 1
                    continue
                chunks = read_chunks(path, data)
            except (OSError, UnreadableDocument) as exc:
                report.failed.append(
                    (name, exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc))
                )
                continue
            finally:
                if progress is not None:
                    progress(name)
            if name in stored:
                report.replaced += 1
            else:
                report.added += 1
            report.chunks += len(chunks)
            batch.append(FileChunks(name, digest, chunks))
            pending += len(chunks)
            if pending >= BATCH_CHUNKS:
                await self.store.replace(app.name, batch, now_ms())
                batch, pending = [], 0
        await self.store.replace(app.name, batch, now_ms())
        gone = [name for name in stored if name not in seen and (prune or not self._exists(app, name))]
        report.removed = await self.store.drop(app.name, gone)
        if report.chunks >= ANALYZE_AFTER_CHUNKS or report.removed:
            await self.store.analyze()
        return report

    @staticmethod
    def _exists(app: App, name: str) -> bool:
        path = Path(name)
        if not path.is_absolute() and app.root is not None:
            path = app.root / path
        return path.is_file()

    async def search(self, app: App, query: str, limit: int = 5) -> list[Hit]:
        """The App's chunks best matching ``query``; other Apps' documents are never searched."""
        return await self.store.search(app.name, search_terms(query), limit)

    async def counts(self, app: App) -> tuple[int, int]:
        return await self.store.counts(app.name)
