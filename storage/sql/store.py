"""A store on SQLAlchemy engines: reads on one engine's pool, write transactions on another's.

The backend decides how writers take turns (`write_turn`): SQLite has one writer connection
and lets interactive transactions go first; a server database can let them all run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.errors import StorageUnavailable
from storage.interfaces import is_background_work
from storage.sql.audit import SqlAudit
from storage.sql.executor import Clock, ConnectionExecutor, PooledExecutor, to_completion
from storage.sql.jobs import SqlJobs
from storage.sql.posts import SqlPosts

WriteTurn = Callable[[bool], AbstractAsyncContextManager[None]]
"""Waits for the turn of a write transaction; the argument says whether it is background work."""


class SqlTransaction:
    """The repositories of one write transaction, on its connection."""

    def __init__(self, connection: AsyncConnection, clock: Clock) -> None:
        run = ConnectionExecutor(connection, clock)
        self.posts = SqlPosts(run)
        self.jobs = SqlJobs(run)
        self.audit = SqlAudit(run)


class SqlStore:
    """One database: `store.posts` ... for reads, `async with store.transaction() as tx`."""

    def __init__(
        self,
        *,
        reader: AsyncEngine,
        writer: AsyncEngine,
        clock: Clock,
        write_turn: WriteTurn,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._clock = clock
        self._write_turn = write_turn
        self._on_close = on_close
        run = PooledExecutor(reader, clock)
        self.posts = SqlPosts(run)
        self.jobs = SqlJobs(run)
        self.audit = SqlAudit(run)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTransaction]:
        """One write transaction; commit on success, rollback on any error or cancellation.

        BEGIN, every statement, COMMIT and ROLLBACK each run to their end (`to_completion`):
        a cancellation takes effect between them, so the connection is never left half-way
        through a statement or outside the transaction the code believes it is in.
        """
        async with self._write_turn(is_background_work()), self._writer.connect() as connection:
            await to_completion(connection.begin().start())
            try:
                yield SqlTransaction(connection, self._clock)
            except BaseException:
                await to_completion(connection.rollback())
                raise
            await to_completion(connection.commit())

    async def ping(self) -> None:
        """Raise `StorageUnavailable` unless the database answers a query."""
        try:
            async with self._reader.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            raise StorageUnavailable(f"the database did not answer: {exc}") from exc

    async def close(self) -> None:
        """Close every connection, then let the backend give up what it holds."""
        try:
            await self._reader.dispose()
            await self._writer.dispose()
        finally:
            if self._on_close is not None:
                await self._on_close()
