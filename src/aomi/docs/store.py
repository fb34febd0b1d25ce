"""The `doc_files` / `doc_chunks` tables and their full-text search: FTS5 bm25 on SQLite,
tsvector + GIN with `ts_rank_cd` on PostgreSQL. Every query is scoped to one App."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aomi.db.tables import doc_chunks, doc_files
from aomi.docs.chunks import Chunk


@dataclass(frozen=True)
class Hit:
    path: str
    heading: str
    body: str
    score: float


@dataclass(frozen=True)
class FileChunks:
    """One file's new content, to replace what is stored under its path."""

    path: str
    content_hash: str
    chunks: Sequence[Chunk]


# SQLite: FTS5's bm25 over heading (weight 2) and body (1), narrowed to the App in the index.
_SQLITE_SEARCH = text(
    "SELECT c.path, c.heading, c.body, bm25(doc_chunks_fts, 0.0, 2.0, 1.0) AS score "
    "FROM doc_chunks_fts JOIN doc_chunks c ON c.id = doc_chunks_fts.rowid "
    "WHERE doc_chunks_fts MATCH :query AND c.app = :app ORDER BY score LIMIT :limit"
)
# PostgreSQL's ts_rank_cd knows nothing of how rare a word is, so a chunk repeating one common
# word would beat one holding every word asked for. Each chunk scores the BM25 weight (idf) of
# each query word it holds, the word's document frequency counted over the same matches in one
# pass; ts_rank_cd (heading words weigh more) breaks ties among the best few.
_PG_SEARCH = text(
    "WITH words AS (SELECT to_tsquery('english', w) AS q FROM unnest(CAST(:words AS text[])) AS w), "
    "total AS (SELECT coalesce(sum(chunks), 0) AS n FROM doc_files WHERE app = :app), "
    "hits AS (SELECT c.id, count(*) OVER (PARTITION BY words.q) AS df "
    "  FROM doc_chunks c JOIN words ON c.tsv @@ words.q WHERE c.app = :app), "
    "best AS (SELECT hits.id, sum(ln(1 + (total.n - hits.df + 0.5) / (hits.df + 0.5))) AS idf "
    "  FROM hits CROSS JOIN total GROUP BY hits.id ORDER BY idf DESC LIMIT :limit * 4) "
    "SELECT c.path, c.heading, c.body, "
    "  best.idf + 0.01 * ts_rank_cd(c.tsv, to_tsquery('english', :query)) AS score "
    "FROM best JOIN doc_chunks c ON c.id = best.id ORDER BY score DESC, c.id LIMIT :limit"
)


class DocStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if self.postgres else sqlite.insert

    async def hashes(self, app: str) -> dict[str, str]:
        """Stored path -> content hash, for one App."""
        query = select(doc_files.c.path, doc_files.c.content_hash).where(doc_files.c.app == app)
        async with self.engine.connect() as conn:
            return {r.path: r.content_hash for r in await conn.execute(query)}

    async def replace(self, app: str, files: Sequence[FileChunks], now: int) -> None:
        """Each file's chunks replace the stored ones, all in one transaction. The `doc_files` row
        is written first: its row lock orders two ingests of the same file on PostgreSQL."""
        if not files:
            return
        async with self.engine.begin() as conn:
            rows = [
                {
                    "app": app,
                    "path": f.path,
                    "content_hash": f.content_hash,
                    "chunks": len(f.chunks),
                    "ingested_ms": now,
                }
                for f in files
            ]
            stmt = self._insert(doc_files)
            stmt = stmt.on_conflict_do_update(
                index_elements=["app", "path"],
                set_={k: stmt.excluded[k] for k in ("content_hash", "chunks", "ingested_ms")},
            )
            await conn.execute(stmt, rows)
            await self._drop_chunks(conn, app, [f.path for f in files])
            chunk_rows = [
                {"app": app, "path": f.path, "ordinal": i, "heading": c.heading, "body": c.body}
                for f in files
                for i, c in enumerate(f.chunks)
            ]
            if chunk_rows:
                await conn.execute(insert(doc_chunks), chunk_rows)

    async def drop(self, app: str, paths: Collection[str]) -> int:
        """Forget files (and their chunks); how many files went."""
        if not paths:
            return 0
        async with self.engine.begin() as conn:
            await self._drop_chunks(conn, app, list(paths))
            result = await conn.execute(
                delete(doc_files).where(doc_files.c.app == app, doc_files.c.path.in_(list(paths)))
            )
        return int(result.rowcount or 0)

    @staticmethod
    async def _drop_chunks(conn: AsyncConnection, app: str, paths: list[str]) -> None:
        for start in range(0, len(paths), 500):  # stay under SQLite's bound-parameter limit
            part = paths[start : start + 500]
            await conn.execute(delete(doc_chunks).where(doc_chunks.c.app == app, doc_chunks.c.path.in_(part)))

    async def analyze(self) -> None:
        """After a large change (PostgreSQL): fresh planner statistics (without them a new table's
        searches scan it instead of using the full-text index), and the GIN index's list of
        pending insertions merged, which searches would otherwise read through until a VACUUM."""
        if self.postgres:
            async with self.engine.begin() as conn:
                await conn.execute(text("ANALYZE doc_chunks, doc_files"))
                await conn.execute(text("SELECT gin_clean_pending_list('ix_doc_chunks_tsv')"))

    async def counts(self, app: str) -> tuple[int, int]:
        """(files, chunks) stored for the App."""
        async with self.engine.connect() as conn:
            files = await conn.scalar(
                select(func.count()).select_from(doc_files).where(doc_files.c.app == app)
            )
            chunks = await conn.scalar(
                select(func.count()).select_from(doc_chunks).where(doc_chunks.c.app == app)
            )
        return int(files or 0), int(chunks or 0)

    async def search(self, app: str, terms: Sequence[str], limit: int) -> list[Hit]:
        """The App's chunks that hold any of ``terms`` (plain words), best first."""
        if not terms:
            return []
        params: dict[str, object] = {"app": app, "limit": limit}
        if self.postgres:
            statement = _PG_SEARCH
            params.update(query=" | ".join(terms), words=list(terms))
        else:
            statement = _SQLITE_SEARCH
            words = " OR ".join(f'"{t}"' for t in terms)
            params["query"] = f'app : "{app}" AND {{heading body}} : ({words})'
        async with self.engine.connect() as conn:
            rows = await conn.execute(statement, params)
            # bm25 is lower-is-better; reported higher-is-better like ts_rank_cd.
            return [Hit(r.path, r.heading, r.body, -r.score if not self.postgres else r.score) for r in rows]
