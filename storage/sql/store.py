"""A store on SQLAlchemy connections lent by the backend: one for each read, one for each
write transaction.

The backend decides where connections come from and how writers take turns: SQLite keeps one
writer connection (interactive transactions first) and a few read-only ones open for good; a
server database can lend pooled connections to every writer at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.errors import StorageUnavailable
from storage.interfaces import is_background_work
from storage.sql.audit import SqlAudit
from storage.sql.executor import (
    Clock,
    ConnectionExecutor,
    Connections,
    ReadExecutor,
    to_completion,
)
from storage.sql.jobs import SqlJobs
from storage.sql.llm_calls import SqlLLMCalls
from storage.sql.posts import SqlPosts

WriteConnections = Callable[[bool], AbstractAsyncContextManager[AsyncConnection]]
"""Lends the connection for one write transaction once it is its turn; the argument says
whether the transaction is background work."""


class SqlTransaction:
    """The repositories of one write transaction, on its connection."""

    def __init__(self, connection: AsyncConnection, clock: Clock) -> None:
        run = ConnectionExecutor(connection, clock)
        self.posts = SqlPosts(run)
        self.jobs = SqlJobs(run)
        self.audit = SqlAudit(run)
        self.llm_calls = SqlLLMCalls(run)


class SqlStore:
    """One database: `store.posts` ... for reads, `async with store.transaction() as tx`."""

    def __init__(
        self,
        *,
        dialect_name: str,
        reads: Connections,
        writes: WriteConnections,
        clock: Clock,
        on_close: Callable[[], Awaitable[None]],
    ) -> None:
        self._reads = reads
        self._writes = writes
        self._clock = clock
        self._on_close = on_close
        run = ReadExecutor(reads, dialect_name, clock)
        self.posts = SqlPosts(run)
        self.jobs = SqlJobs(run)
        self.audit = SqlAudit(run)
        self.llm_calls = SqlLLMCalls(run)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTransaction]:
        """One write transaction; commit on success, rollback on any error or cancellation.

        BEGIN, every statement, COMMIT and ROLLBACK each run to their end (`to_completion`):
        a cancellation takes effect between them, so the connection is never left half-way
        through a statement or outside the transaction the code believes it is in.
        """
        async with self._writes(is_background_work()) as connection:
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
            async with self._reads() as connection:
                await to_completion(connection.execute(text("SELECT 1")))
        except (SQLAlchemyError, OSError) as exc:
            raise StorageUnavailable(f"the database did not answer: {exc}") from exc

    async def close(self) -> None:
        """Close every connection and give up what the backend holds."""
        await self._on_close()
