"""Alembic's entry point: migrations run on the connection `storage.migrations` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from storage.schema import metadata

connection = context.config.attributes["connection"]
assert isinstance(connection, Connection), "run through storage.migrations.upgrade()"
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters tables by copying them; later revisions use batch operations for that.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
