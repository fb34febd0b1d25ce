"""event numbering across re-creation; Sign-In with Ethereum nonces

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.add_column(sa.Column("event_seq_base", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "session_tombstones",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("last_event_seq", sa.Integer(), nullable=False),
        sa.Column("deleted_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "wallet_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.Column("used_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("nonce"),
    )
    op.create_index("ix_wallet_nonces_expires", "wallet_nonces", ["expires_ms"])


def downgrade() -> None:
    op.drop_index("ix_wallet_nonces_expires", table_name="wallet_nonces")
    op.drop_table("wallet_nonces")
    op.drop_table("session_tombstones")
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.drop_column("event_seq_base")
