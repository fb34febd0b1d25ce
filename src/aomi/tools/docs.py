"""`search_docs`: full-text search over the App's own documents, with file and heading cited."""

from __future__ import annotations

from pydantic_ai import RunContext

from aomi.agent.deps import TurnDeps
from aomi.docs.store import Hit
from aomi.errors import AomiError
from aomi.tools.chain import tool_errors

LIMIT_MAX = 10


def citation(hit: Hit) -> str:
    """`guide.md: Staking > Unstaking`, or the file alone for text before any heading."""
    return f"{hit.path}: {hit.heading}" if hit.heading else hit.path


@tool_errors
async def search_docs(ctx: RunContext[TurnDeps], query: str, limit: int = 5) -> str:
    """Search this App's documents; cite the file and heading of what you use.

    Args:
        query: What to look for, in plain words (a question works).
        limit: How many passages to return (1-10).
    """
    documents = ctx.deps.documents
    if documents is None:
        raise AomiError("documents are not available on this server")
    hits = await documents.search(ctx.deps.app, query, max(1, min(limit, LIMIT_MAX)))
    if not hits:
        return f"No passage of this App's documents matches {query!r}."
    return "\n\n".join(f"[{i}] {citation(hit)}\n{hit.body}" for i, hit in enumerate(hits, 1))
