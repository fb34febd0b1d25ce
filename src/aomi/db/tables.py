"""The schema as SQLAlchemy Core tables. Migrations in `migrations/` create exactly this.

Timestamps are integer milliseconds since the Unix epoch (UTC): identical on SQLite and
PostgreSQL, cheap to compare, formatted as ISO-8601 only at the HTTP edge.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

app_keys = Table(
    "app_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("prefix", String(32), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("label", String(200), nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=True),
    Column("revoked_ms", BigInteger, nullable=True),
    Column("last_used_ms", BigInteger, nullable=True),
)

app_key_scopes = Table(
    "app_key_scopes",
    metadata,
    Column("key_id", String(32), ForeignKey("app_keys.id", ondelete="CASCADE"), primary_key=True),
    Column("app", String(64), primary_key=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("app", String(64), nullable=False),
    Column("model", String(200), nullable=False),
    Column("title", String(200), nullable=True),
    Column("title_manual", Boolean, nullable=False, default=False),
    Column("archived", Boolean, nullable=False, default=False),
    Column("status", String(16), nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_ms", BigInteger, nullable=True),
    Column("wallet_address", String(42), nullable=True),
    Column("chain_id", BigInteger, nullable=True),
    Column("user_state", Text, nullable=True),
    Column("client_id", String(200), nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    # Event numbers of a session re-created under a deleted one's id continue from here.
    Column("event_seq_base", Integer, nullable=False, default=0, server_default="0"),
    # Counters the database allocates numbers from, in the writing transaction (so two replicas
    # never pick the same number): the next message number and the last event number.
    Column("next_message_seq", Integer, nullable=False, default=0, server_default="0"),
    Column("event_seq", Integer, nullable=False, default=0, server_default="0"),
    # A parked turn (waiting for the wallet) is `processing` with no lease, until this deadline.
    Column("parked_until_ms", BigInteger, nullable=True),
    Index("ix_sessions_wallet_updated", "wallet_address", "updated_ms"),
    Index("ix_sessions_status", "status"),
    Index("ix_sessions_parked_until", "parked_until_ms"),
)

messages = Table(
    "messages",
    metadata,
    Column("session_id", String(36), ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("id", String(36), nullable=False),
    Column("sender", String(8), nullable=False),
    Column("content", Text, nullable=False),
    Column("tool_topic", Text, nullable=True),
    Column("tool_content", Text, nullable=True),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("is_streaming", Boolean, nullable=False, default=False),
)

session_events = Table(
    "session_events",
    metadata,
    Column("session_id", String(36), ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("payload", Text, nullable=False),
    Column("http_delivered", Boolean, nullable=False, default=False),
    Column("created_ms", BigInteger, nullable=False),
)

# A deleted session's last event number: a session later created under the same id numbers its
# events after it, so a subscriber still holding an old Last-Event-ID skips nothing.
session_tombstones = Table(
    "session_tombstones",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("last_event_seq", Integer, nullable=False),
    Column("deleted_ms", BigInteger, nullable=False),
)

# Sign-In with Ethereum nonces: single use, short-lived, shared by every replica.
wallet_nonces = Table(
    "wallet_nonces",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("expires_ms", BigInteger, nullable=False),
    Column("used_ms", BigInteger, nullable=True),
    Index("ix_wallet_nonces_expires", "expires_ms"),
)

# The model's view of a session (pydantic-ai messages: prompts, answers, tool calls and results),
# one row per message, appended as a turn produces them so a crash keeps what the turn did.
model_messages = Table(
    "model_messages",
    metadata,
    Column("session_id", String(36), ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("data", Text, nullable=False),
)

# Bring-your-own LLM keys: one per owner (a client id, or `session:<id>`) and provider, encrypted.
provider_keys = Table(
    "provider_keys",
    metadata,
    Column("owner", String(240), primary_key=True),
    Column("provider", String(32), primary_key=True),
    Column("key_prefix", String(16), nullable=False),
    Column("label", String(200), nullable=True),
    Column("ciphertext", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

# One row per agent turn. No foreign key to sessions: usage outlives a deleted thread (its
# session_id is cleared then).
usage = Table(
    "usage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("app", String(64), nullable=False),
    Column("key_id", String(32), nullable=True),
    Column("session_id", String(36), nullable=True),
    Column("model_label", String(200), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("requests", Integer, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("tool_calls", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("duration_ms", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_usage_app_created", "app", "created_ms"),
    Index("ix_usage_key_created", "key_id", "created_ms"),
    Index("ix_usage_session", "session_id"),
)

# Wallet hand-offs of parked turns (SPEC 5 step 4): a deferred tool call and its call data, then
# the wallet's answer; `closed_ms` is set once the answer was handed back to the agent.
wallet_requests = Table(
    "wallet_requests",
    metadata,
    Column("session_id", String(36), ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("tool_call_id", String(200), nullable=False),
    Column("payload", Text, nullable=False),
    Column("message_seq", Integer, nullable=True),
    Column("key_id", String(32), nullable=True),
    Column("status", String(16), nullable=False),
    Column("answer", Text, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("answered_ms", BigInteger, nullable=True),
    Column("closed_ms", BigInteger, nullable=True),
)

# Client secrets (SPEC 4.5): values a client hands its tools, one per client id and name,
# encrypted; they expire.
client_secrets = Table(
    "client_secrets",
    metadata,
    Column("client_id", String(200), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("ciphertext", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Index("ix_client_secrets_expires", "expires_ms"),
)

# An App's documents (`aomi docs ingest`): one row per file, its chunks, searched by full-text
# search. The index is dialect-specific and lives in migration 0006 only: on SQLite an FTS5 table
# (`doc_chunks_fts`, kept in step by triggers), on PostgreSQL a generated `tsv` column with a GIN
# index. `in_tables` leaves them out of schema comparisons.
doc_files = Table(
    "doc_files",
    metadata,
    Column("app", String(64), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("chunks", Integer, nullable=False),
    Column("ingested_ms", BigInteger, nullable=False),
)

doc_chunks = Table(
    "doc_chunks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("app", String(64), nullable=False),
    Column("path", String(1000), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("heading", Text, nullable=False),
    Column("body", Text, nullable=False),
    Index("ix_doc_chunks_app_path", "app", "path"),
)

FTS_TABLE = "doc_chunks_fts"


def in_tables(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """For alembic's `include_object`: false for the full-text index objects of migration 0006."""
    if type_ == "table" and name is not None and name.startswith(FTS_TABLE):
        return False
    if type_ == "column" and name == "tsv":
        return getattr(getattr(obj, "table", None), "name", None) != "doc_chunks"
    return not (type_ == "index" and name == "ix_doc_chunks_tsv")
