"""All SQL lives here, behind the repository interfaces of `storage.interfaces`.

    store = await open_store(sqlite_url(path))     # locked, created or upgraded, open
    post = await store.posts.get(post_id)           # reads see the latest commit
    async with store.transaction() as tx:           # one write transaction
        await tx.posts.transition(...)
    await store.close()

`sqlite:///path` today (`storage/sqlite/`); `postgresql://` joins in issue 13.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from storage.errors import SchemaTooNew, StorageError, StorageUnavailable, StoreLocked
from storage.interfaces import Store, Transaction, background_work, is_background_work
from storage.sql.executor import Clock

__all__ = [
    "SchemaTooNew",
    "StorageError",
    "StorageUnavailable",
    "Store",
    "StoreLocked",
    "Transaction",
    "background_work",
    "is_background_work",
    "open_store",
    "sqlite_url",
]


def sqlite_url(path: Path | str) -> str:
    """The URL of the SQLite database at `path`."""
    return f"sqlite:///{path}"


async def open_store(url: str, *, clock: Clock | None = None) -> Store:
    """Open the database at `url`, creating or upgrading its schema first.

    `clock` stamps rows (created_at, updated_at, audit times); the machine's by default.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        from storage.sqlite import open_sqlite_store

        if not parsed.database or parsed.database == ":memory:":
            raise StorageError("socialpost's SQLite database must be a file")
        return await open_sqlite_store(parsed.database, clock=clock)
    raise StorageError(f"unsupported database URL scheme: {parsed.drivername}")
