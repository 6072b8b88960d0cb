"""The SQLite backend: one process owns the file (a lock proves it), one writer connection,
read-only connections for reads, migrations at open (see `engine` for what is kept and why).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage import migrations
from storage.errors import SchemaTooNew
from storage.sql.executor import Clock, StampClock, system_clock
from storage.sql.store import SqlStore
from storage.sql.turns import Priority, Turns
from storage.sqlite import legacy
from storage.sqlite.engine import (
    READERS,
    HeldConnections,
    reader_engine,
    writer_engine,
)
from storage.sqlite.lock import FileLock

ALEMBIC_USER_VERSION = 100
"""PRAGMA user_version of a database whose schema Alembic keeps: a socialpost from before
Alembic sees a version newer than it knows and refuses the file instead of misreading it."""


def _create_private_file(path: Path) -> None:
    # The file holds drafts and user ids: readable by the owner only. SQLite creates the
    # -wal and -shm files with the same permissions.
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(descriptor)


def migrate(connection: Connection) -> None:
    """Bring the database to the newest schema in one transaction: a legacy database (user
    version 1-4) through `legacy` to the Alembic baseline first, then Alembic to its head."""
    with connection.begin():
        user_version = int(connection.exec_driver_sql("PRAGMA user_version").scalar() or 0)
        if user_version > legacy.LATEST and user_version != ALEMBIC_USER_VERSION:
            raise SchemaTooNew(
                f"the database is at schema version {user_version}, newer than this"
                " socialpost knows: upgrade socialpost or point SOCIALPOST_DB_PATH elsewhere"
            )
        if 0 < user_version <= legacy.LATEST and not migrations.current_revisions(connection):
            legacy.upgrade_to_baseline(connection, user_version)
        migrations.upgrade(connection)
        connection.exec_driver_sql(f"PRAGMA user_version = {ALEMBIC_USER_VERSION}")


async def open_sqlite_store(
    path: Path | str, *, clock: Clock | None = None, readers: int = READERS
) -> SqlStore:
    """Lock, create or upgrade, and open the SQLite database at `path`.

    Raises `StoreLocked` when another store (in this or any process) has the file open, and
    `SchemaTooNew` for a database written by a newer socialpost.
    """
    path = Path(path)
    lock = FileLock.acquire(path)
    engines: list[AsyncEngine] = []
    try:
        _create_private_file(path)
        writer = writer_engine(path)
        engines.append(writer)
        async with writer.connect() as connection:
            await connection.run_sync(migrate)
        reader = reader_engine(path, pool_size=readers)
        engines.append(reader)
    except BaseException:
        for engine in engines:
            await engine.dispose()
        lock.release()
        raise
    write_turns = Turns(1)
    writes = HeldConnections(writer, 1)
    reads = HeldConnections(reader, readers)

    @asynccontextmanager
    async def write_turn(priority: Priority) -> AsyncIterator[AsyncConnection]:
        async with write_turns.turn(priority), writes.lend() as connection:
            yield connection

    async def close() -> None:
        try:
            await reads.close()
            await writes.close()
        finally:
            lock.release()

    return SqlStore(
        dialect_name=writer.dialect.name,
        reads=reads.lend,
        writes=write_turn,
        clock=StampClock(clock or system_clock),
        on_close=close,
    )
