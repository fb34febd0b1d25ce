"""client secrets

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "client_secrets",
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "name"),
    )
    op.create_index("ix_client_secrets_expires", "client_secrets", ["expires_ms"])


def downgrade() -> None:
    op.drop_index("ix_client_secrets_expires", table_name="client_secrets")
    op.drop_table("client_secrets")
