"""What can go wrong below the services, as exceptions they can catch by name.

StorageError
 +-- StoreLocked          another process owns the SQLite file (start-up refuses)
 +-- SchemaTooNew         the database was written by a newer socialpost
 +-- StorageUnavailable   the database doesn't answer (or refuses us)
 +-- DatabaseNotEmpty     `socialpost migrate-to` found data in its target
"""

from __future__ import annotations

from pathlib import Path


class StorageError(Exception):
    """The store can't be used."""


class StoreLocked(StorageError):
    """Another process holds the SQLite database file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        super().__init__(
            f"another socialpost process is using the SQLite database {path}. A SQLite file"
            " belongs to one process; to run several processes, share a PostgreSQL database"
            " (SOCIALPOST_DATABASE_URL)."
        )


class SchemaTooNew(StorageError):
    """The database's schema is newer than this socialpost knows."""


class StorageUnavailable(StorageError):
    """The database did not answer."""


class StoreBusy(StorageUnavailable):
    """No connection came free in time (`storage.sql.turns.WAIT_LIMIT`)."""


class DatabaseNotEmpty(StorageError):
    """The database a copy was to go into already holds data."""
