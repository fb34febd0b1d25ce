"""Usage per turn (SPEC 5 step 6): one row per agent turn, totals per App, key and model.

Rows have no foreign key to sessions: usage outlives a deleted thread, whose rows then keep
everything but their `session_id` (cleared by `SessionStore.delete`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aomi.db.tables import usage
from aomi.sessions.model import Status
from aomi.timeutil import iso_ms

PARKED = "parked"
"""The status of a usage row for the part of a turn before it parked for the wallet: the turn's
row is the one written at its end (the resumed part's), so parked rows count no turn."""


@dataclass(frozen=True)
class TurnUsage:
    """What one turn used, recorded at its end (``status``: how it ended)."""

    app: str
    key_id: str | None
    session_id: str | None
    model_label: str
    provider: str
    requests: int
    input_tokens: int
    output_tokens: int
    tool_calls: int
    status: str
    duration_ms: int
    created_ms: int


async def insert_usage(conn: AsyncConnection, u: TurnUsage) -> int:
    """Write one turn's usage row in the caller's transaction (a turn's end writes it with the rest);
    the row's id."""
    inserted = await conn.execute(insert(usage).values(**asdict(u)).returning(usage.c.id))
    return int(inserted.scalar_one())


@dataclass(frozen=True)
class UsageFigures:
    """What a set of turns used, added up."""

    turns: int
    requests: int
    input_tokens: int
    output_tokens: int
    tool_calls: int
    errors: int
    """Turns that did not end `idle` (`error` or `interrupted`)."""
    duration_ms: int


@dataclass(frozen=True)
class UsageTotal(UsageFigures):
    """The turns of one App, key (None: no key) and model, added up."""

    app: str
    key_id: str | None
    model_label: str
    provider: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UsageBucket(UsageFigures):
    """The turns recorded in ``[start_ms, start_ms + bucket)``, added up."""

    start_ms: int

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = asdict(self)
        body["start"] = iso_ms(body.pop("start_ms"))
        return body


class UsageStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record(self, u: TurnUsage) -> int:
        """Write one turn's usage in a transaction of its own; the row's id."""
        async with self.engine.begin() as conn:
            return await insert_usage(conn, u)

    async def totals(
        self,
        *,
        app: str | None = None,
        key_id: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> list[UsageTotal]:
        """Totals per App, key, model and provider, over the turns recorded at or after
        ``since_ms`` (and before ``until_ms``), of one App or key when given; ordered by App,
        key (no key first), model."""
        c = usage.c
        groups = (c.app, c.key_id, c.model_label, c.provider)
        query = select(*groups, *_sums()).group_by(*groups)
        query = _within(query, app, key_id, since_ms, until_ms)
        query = query.order_by(c.app, c.key_id.nulls_first(), c.model_label, c.provider)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            UsageTotal(**_figures(r[4:]), app=r[0], key_id=r[1], model_label=r[2], provider=r[3])
            for r in rows
        ]

    async def series(
        self,
        *,
        since_ms: int,
        until_ms: int,
        bucket_ms: int,
        app: str | None = None,
        key_id: str | None = None,
    ) -> list[UsageBucket]:
        """Totals per time bucket (``bucket_ms`` long, counted from ``since_ms``) over every App
        and key, or one of each when given; only buckets with turns, oldest first."""
        c = usage.c
        bucket = ((c.created_ms - since_ms) // bucket_ms).label("bucket")
        query = select(bucket, *_sums()).group_by(bucket).order_by(bucket)
        query = _within(query, app, key_id, since_ms, until_ms)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [UsageBucket(**_figures(r[1:]), start_ms=since_ms + int(r[0]) * bucket_ms) for r in rows]


def _sums() -> tuple[ColumnElement[Any], ...]:
    """The `UsageFigures` fields, in their order, summed (SQL)."""
    c = usage.c
    return (
        func.sum(case((c.status != PARKED, 1), else_=0)),
        func.sum(c.requests),
        func.sum(c.input_tokens),
        func.sum(c.output_tokens),
        func.sum(c.tool_calls),
        func.sum(case((c.status.not_in([Status.IDLE.value, PARKED]), 1), else_=0)),
        func.sum(c.duration_ms),
    )


def _figures(values: Sequence[Any]) -> dict[str, Any]:
    """The summed columns of `_sums` as `UsageFigures` fields."""
    # PostgreSQL sums BIGINT columns as NUMERIC: every figure is made an int.
    names = [f.name for f in fields(UsageFigures)]
    return dict(zip(names, (int(v or 0) for v in values), strict=True))


def _within(
    query: Select[Any], app: str | None, key_id: str | None, since_ms: int | None, until_ms: int | None
) -> Select[Any]:
    c = usage.c
    if app is not None:
        query = query.where(c.app == app)
    if key_id is not None:
        query = query.where(c.key_id == key_id)
    if since_ms is not None:
        query = query.where(c.created_ms >= since_ms)
    if until_ms is not None:
        query = query.where(c.created_ms < until_ms)
    return query
