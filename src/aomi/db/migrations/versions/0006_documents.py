"""documents: doc_files, doc_chunks and their full-text index

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "doc_files",
        sa.Column("app", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("ingested_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app", "path"),
    )
    op.create_table(
        "doc_chunks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("app", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("heading", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_doc_chunks_app_path", "doc_chunks", ["app", "path"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE doc_chunks ADD COLUMN tsv tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('english', heading), 'A') || "
            "setweight(to_tsvector('english', body), 'B')) STORED"
        )
        op.execute("CREATE INDEX ix_doc_chunks_tsv ON doc_chunks USING GIN (tsv)")
    else:
        op.execute(
            # `app` is indexed too, so a search narrows to one App inside the index.
            "CREATE VIRTUAL TABLE doc_chunks_fts USING fts5(app, heading, body, content='doc_chunks', "
            "content_rowid='id', tokenize='porter unicode61')"
        )
        op.execute(
            "CREATE TRIGGER doc_chunks_ai AFTER INSERT ON doc_chunks BEGIN "
            "INSERT INTO doc_chunks_fts(rowid, app, heading, body) "
            "VALUES (new.id, new.app, new.heading, new.body); END"
        )
        op.execute(
            "CREATE TRIGGER doc_chunks_ad AFTER DELETE ON doc_chunks BEGIN "
            "INSERT INTO doc_chunks_fts(doc_chunks_fts, rowid, app, heading, body) "
            "VALUES ('delete', old.id, old.app, old.heading, old.body); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TRIGGER IF EXISTS doc_chunks_ad")
        op.execute("DROP TRIGGER IF EXISTS doc_chunks_ai")
        op.execute("DROP TABLE IF EXISTS doc_chunks_fts")
    op.drop_index("ix_doc_chunks_app_path", table_name="doc_chunks")
    op.drop_table("doc_chunks")
    op.drop_table("doc_files")
