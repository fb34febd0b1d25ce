"""model history as rows; BYOK provider keys; usage per turn

Revision ID: 0003
Revises: 0002
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_messages",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("session_id", "seq"),
    )
    # Each session's history blob becomes one row per message.
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, model_history FROM sessions WHERE model_history <> '[]'"))
    target = sa.table("model_messages", sa.column("session_id"), sa.column("seq"), sa.column("data"))
    for session_id, blob in list(rows):
        try:
            messages = json.loads(blob)
        except ValueError:
            continue
        if isinstance(messages, list) and messages:
            op.bulk_insert(
                target,
                [{"session_id": session_id, "seq": i, "data": json.dumps(m)} for i, m in enumerate(messages)],
            )
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.drop_column("model_history")
    op.create_table(
        "provider_keys",
        sa.Column("owner", sa.String(length=240), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("owner", "provider"),
    )
    op.create_table(
        "usage",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("app", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        sa.Column("model_label", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("tool_calls", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("duration_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_usage_app_created", "usage", ["app", "created_ms"])
    op.create_index("ix_usage_key_created", "usage", ["key_id", "created_ms"])
    op.create_index("ix_usage_session", "usage", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_usage_session", table_name="usage")
    op.drop_index("ix_usage_key_created", table_name="usage")
    op.drop_index("ix_usage_app_created", table_name="usage")
    op.drop_table("usage")
    op.drop_table("provider_keys")
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.add_column(sa.Column("model_history", sa.Text(), nullable=False, server_default="[]"))
    op.drop_table("model_messages")
