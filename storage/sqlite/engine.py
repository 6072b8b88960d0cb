"""SQLite engines: one writer connection, a few read-only ones, and how writers take turns.

What was measured and is kept here:

- WAL journal with synchronous=NORMAL: readers never wait for the writer, and a killed process
  loses nothing (only power loss may drop the last transactions);
- busy_timeout, in case anything else touches the file (a backup, the sqlite3 shell);
- every write transaction is `BEGIN IMMEDIATE` (it takes the write lock at once, so a
  read-then-write can't fail half-way), on ONE writer connection. Writers take turns
  (`storage.sql.turns.Turns`, one permit): an interactive transaction (someone waits in
  Slack or on the API) goes before background work (`storage.background_work()`: the jobs
  worker, drafting), but the two alternate while both wait, so a backlog delays an answer by
  one turn at most and a stream of requests can't starve the worker;
- the writer's statements run on the event loop inside its transactions (see
  `storage.sqlite.driver`): a turn lasts as long as the transaction's own work, not its
  work plus a wake-up of a busy loop per statement;
- reads use a few read-only connections in autocommit mode; each read borrows one and runs
  alone on it, and every statement runs to its end, so no statement left open can keep an old
  WAL snapshot alive (which made reads stale under load when many tasks shared one
  connection).

Each statement makes one trip to its connection's thread (`storage.sqlite.driver`), not the
four of SQLAlchemy's aiosqlite adapter.

The connections stay open for the store's life (`HeldConnections`): checking one out of
SQLAlchemy's pool for every statement, and resetting it on the way back, cost more than the
statement itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util import await_

from storage.sql.executor import to_completion
from storage.sqlite.driver import OneTripConnection
from storage.sqlite.driver import connect as connect_one_trip

BUSY_TIMEOUT_MS = 5000
READERS = 4


class HeldConnections:
    """`size` connections of one engine, opened when first needed and kept open, each lent to
    one borrower at a time. A connection whose borrower failed (or was cancelled) is closed
    and replaced: whatever state it was left in goes with it."""

    def __init__(self, engine: AsyncEngine, size: int) -> None:
        self._engine = engine
        self._idle: asyncio.Queue[AsyncConnection | None] = asyncio.Queue()
        for _ in range(size):
            self._idle.put_nowait(None)

    @asynccontextmanager
    async def lend(self) -> AsyncIterator[AsyncConnection]:
        """A connection for the block, to the caller alone."""
        connection = await self._idle.get()
        try:
            if connection is None or connection.invalidated:
                connection = await to_completion(self._engine.connect().start())
            yield connection
        except BaseException:
            if connection is not None:
                await to_completion(connection.close())
                connection = None
            raise
        finally:
            self._idle.put_nowait(connection)

    async def close(self) -> None:
        """Close every connection (none may be lent out), then the engine."""
        while not self._idle.empty():
            connection = self._idle.get_nowait()
            if connection is not None:
                await connection.close()
        await self._engine.dispose()


def _daemon(connection: aiosqlite.Connection) -> aiosqlite.Connection:
    # A store left open must not keep the interpreter alive at exit (aiosqlite runs each
    # connection on a thread of its own).
    thread = getattr(connection, "_thread", None)
    if thread is not None:
        thread.daemon = True
    return connection


def _engine(
    target: str, *, uri: bool, pool_size: int, pragmas: list[str], writer: bool = False
) -> AsyncEngine:
    async def connect() -> aiosqlite.Connection:
        # isolation_level=None: the driver never BEGINs by itself; the writer's transactions
        # say BEGIN IMMEDIATE (below), and reads run in autocommit mode.
        connection = await _daemon(
            connect_one_trip(target, uri=uri, isolation_level=None, inline_transactions=writer)
        )
        try:
            for pragma in pragmas:
                async with connection.execute(pragma) as cursor:
                    await cursor.fetchall()
        except BaseException:
            await connection.close()
            raise
        return connection

    return create_async_engine(
        "sqlite+aiosqlite://",
        async_creator=connect,
        poolclass=AsyncAdaptedQueuePool,
        pool_size=pool_size,
        max_overflow=0,
        # Waiting for a connection is waiting for a turn: never give up on it.
        pool_timeout=24 * 3600,
    )


def writer_engine(path: Path) -> AsyncEngine:
    """The engine of the single writer connection; its transactions are BEGIN IMMEDIATE."""
    engine = _engine(
        str(path),
        uri=False,
        pool_size=1,
        pragmas=[
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = NORMAL",
            f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
            "PRAGMA foreign_keys = ON",
        ],
        writer=True,
    )

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        # Straight to the driver (one trip to its thread instead of a statement's four); the
        # transaction code runs it to completion, and a failure drops the connection.
        driver = connection.connection.driver_connection
        assert isinstance(driver, OneTripConnection)
        await_(driver.begin_immediate())

    return engine


def reader_engine(path: Path, *, pool_size: int = READERS) -> AsyncEngine:
    """The engine of the read-only connections."""
    return _engine(
        f"{path.resolve().as_uri()}?mode=ro",
        uri=True,
        pool_size=pool_size,
        pragmas=[f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}"],
    )
