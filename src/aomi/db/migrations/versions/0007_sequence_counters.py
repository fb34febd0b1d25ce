"""sequence counters on sessions: message and event numbers allocated by the database

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.add_column(sa.Column("next_message_seq", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("event_seq", sa.Integer(), nullable=False, server_default="0"))
    # Counters continue from what is stored (and, for events, from a deleted namesake's tombstone).
    op.execute(
        "UPDATE sessions SET next_message_seq = COALESCE("
        "(SELECT MAX(m.seq) + 1 FROM messages m WHERE m.session_id = sessions.id), 0)"
    )
    op.execute(
        "UPDATE sessions SET event_seq = COALESCE("
        "(SELECT MAX(e.seq) FROM session_events e WHERE e.session_id = sessions.id), 0)"
    )
    op.execute("UPDATE sessions SET event_seq = event_seq_base WHERE event_seq < event_seq_base")


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.drop_column("event_seq")
        batch_op.drop_column("next_message_seq")
