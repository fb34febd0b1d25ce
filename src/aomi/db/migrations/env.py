"""Alembic environment: always handed a live connection by `aomi.db.engine`."""

from alembic import context

from aomi.db.tables import in_tables, metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection, target_metadata=metadata, render_as_batch=True, include_object=in_tables
)
with context.begin_transaction():
    context.run_migrations()
