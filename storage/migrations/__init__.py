"""The schema's history as Alembic revisions, applied programmatically at start-up.

`upgrade(connection)` brings any database to the newest revision, on a connection of the
caller's (inside its transaction); a revision this socialpost doesn't know is `SchemaTooNew`.
Revisions are written by hand in `versions/` with dialect-neutral operations, and a test
checks that a migrated database matches `storage.schema`.
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection

from storage.errors import SchemaTooNew

BASELINE = "0001"
"""The first revision: the schema as it was when the history moved to Alembic."""


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("storage") / "migrations"))
    config.attributes["connection"] = connection
    return config


def current_revisions(connection: Connection) -> tuple[str, ...]:
    """The revisions the database is at (none for a database Alembic never touched)."""
    return tuple(MigrationContext.configure(connection).get_current_heads())


def head() -> str:
    """The newest revision this socialpost knows."""
    script = ScriptDirectory(str(resources.files("storage") / "migrations"))
    revision = script.get_current_head()
    assert revision is not None
    return revision


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Apply every revision up to `revision` on `connection`."""
    config = _config(connection)
    script = ScriptDirectory.from_config(config)
    for current in current_revisions(connection):
        try:
            script.get_revision(current)
        except CommandError as exc:
            raise SchemaTooNew(
                f"the database is at schema revision {current}, which this socialpost doesn't"
                " know (it was written by a newer one): upgrade socialpost"
            ) from exc
    command.upgrade(config, revision)
