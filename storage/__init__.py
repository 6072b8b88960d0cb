"""All SQL lives here, behind the repository interfaces of `storage.interfaces`.

    store = await open_store(url)                   # created or upgraded, open
    post = await store.posts.get(post_id)           # reads see the latest commit
    async with store.transaction() as tx:           # one write transaction
        await tx.posts.transition(...)
    await store.close()

`sqlite:///path/to/file.db` (`storage/sqlite/`: one process owns the file), or
`postgresql://user:password@host:port/dbname` (also `postgres://`; `storage/postgres/`: any
number of processes share the database).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from storage.errors import (
    SchemaTooNew,
    StorageError,
    StorageUnavailable,
    StoreBusy,
    StoreLocked,
)
from storage.interfaces import Store, Transaction, background_work, is_background_work
from storage.sql.executor import Clock

__all__ = [
    "SchemaTooNew",
    "StorageError",
    "StorageUnavailable",
    "Store",
    "StoreBusy",
    "StoreLocked",
    "Transaction",
    "backend_of",
    "background_work",
    "is_background_work",
    "open_store",
    "sqlite_url",
]


def sqlite_url(path: Path | str) -> str:
    """The URL of the SQLite database at `path`."""
    return f"sqlite:///{path}"


async def open_store(
    url: str, *, clock: Clock | None = None, pool_size: int | None = None
) -> Store:
    """Open the database at `url`, creating or upgrading its schema first.

    `clock` stamps rows (created_at, updated_at, audit times); the machine's by default.
    `pool_size`: connections per process on PostgreSQL (`storage.postgres.POOL_SIZE` by
    default). Raises a `StorageError` whose message never holds the password.
    """
    backend = backend_of(url)
    if backend == "postgresql":
        from storage.postgres import POOL_SIZE, open_postgres_store

        return await open_postgres_store(url, clock=clock, pool_size=pool_size or POOL_SIZE)
    if backend == "sqlite":
        from storage.sqlite import open_sqlite_store

        database = make_url(url).database
        if not database or database == ":memory:":
            raise StorageError("socialpost's SQLite database must be a file")
        return await open_sqlite_store(database, clock=clock)
    raise StorageError(
        "unsupported database URL: use postgresql://user:password@host:port/dbname"
        " (or postgres://) or sqlite:///path/to/file.db"
    )


def backend_of(url: str) -> str | None:
    """`postgresql` or `sqlite` for a URL of either (any driver named after a `+`), else
    None. Only the scheme is looked at: nothing else of the URL (its password) is needed."""
    scheme, separator, _rest = url.partition("://")
    name = scheme.partition("+")[0].lower() if separator else ""
    if name in ("postgresql", "postgres"):
        return "postgresql"
    return "sqlite" if name == "sqlite" else None
