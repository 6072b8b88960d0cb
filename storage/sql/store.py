"""A store on SQLAlchemy connections lent by the backend: one for each read, one for each
write transaction.

The backend decides where connections come from and how writers take turns: SQLite keeps one
writer connection (interactive transactions first) and a few read-only ones open for good; a
server database can lend pooled connections to every writer at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.errors import StorageUnavailable
from storage.interfaces import is_background_work
from storage.sql.api_requests import SqlApiRequests
from storage.sql.approvals import SqlApprovals
from storage.sql.audit import SqlAudit
from storage.sql.executor import (
    Clock,
    ConnectionExecutor,
    Connections,
    ReadExecutor,
    to_completion,
)
from storage.sql.ideas import SqlIdeaRuns
from storage.sql.jobs import SqlJobs
from storage.sql.llm_calls import SqlLLMCalls
from storage.sql.posts import SqlPosts
from storage.sql.shared import SqlCircuitHolds, SqlHomeViewers, SqlRateBuckets
from storage.sql.turns import Priority

WriteConnections = Callable[[Priority], AbstractAsyncContextManager[AsyncConnection]]
"""Lends the connection for one write transaction once it is its turn; the argument is the
transaction's `Priority` (interactive, or background work)."""


class SqlTransaction:
    """The repositories of one write transaction, on its connection."""

    def __init__(
        self, connection: AsyncConnection, clock: Clock, platform_ids: dict[str, str]
    ) -> None:
        self._run = ConnectionExecutor(connection, clock)
        self.posts = SqlPosts(self._run, platform_ids)
        self.jobs = SqlJobs(self._run)
        self.audit = SqlAudit(self._run)
        self.api_requests = SqlApiRequests(self._run)
        self.approvals = SqlApprovals(self._run)
        self.ideas = SqlIdeaRuns(self._run)
        self.llm_calls = SqlLLMCalls(self._run)
        self.buckets = SqlRateBuckets(self._run)
        self.viewers = SqlHomeViewers(self._run)
        self.holds = SqlCircuitHolds(self._run)
        self.committed = False
        """Whether the transaction has committed (set once it has)."""

    @property
    def queued_jobs(self) -> bool:
        """Whether the transaction queued work (a worker should look once it commits)."""
        return self._run.jobs_queued


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
        self._dialect_name = dialect_name
        self._reads = reads
        self._writes = writes
        self._clock = clock
        self._on_close = on_close
        self._jobs_queued = asyncio.Event()
        self._platform_ids: dict[str, str] = {}
        run = ReadExecutor(reads, dialect_name, clock)
        self.posts = SqlPosts(run, self._platform_ids)
        self.jobs = SqlJobs(run)
        self.audit = SqlAudit(run)
        self.api_requests = SqlApiRequests(run)
        self.approvals = SqlApprovals(run)
        self.ideas = SqlIdeaRuns(run)
        self.llm_calls = SqlLLMCalls(run)
        self.viewers = SqlHomeViewers(run)
        self.holds = SqlCircuitHolds(run)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTransaction]:
        """One write transaction; commit on success, rollback on any error or cancellation.

        BEGIN, every statement, COMMIT and ROLLBACK each run to their end (`to_completion`):
        a cancellation takes effect between them, so the connection is never left half-way
        through a statement or outside the transaction the code believes it is in.
        """
        async with self.raw_transaction() as connection:
            transaction = SqlTransaction(connection, self._clock, self._platform_ids)
            yield transaction
        transaction.committed = True
        if transaction.queued_jobs:
            self.jobs_queued()

    def jobs_queued(self) -> None:
        """Work was queued (by this process, or by another one that said so): wake
        `wait_for_jobs`."""
        self._jobs_queued.set()

    async def wait_for_jobs(self, timeout: float) -> bool:
        """Wait until work is queued, or `timeout` seconds pass (then False).

        Work queued since the previous call returned counts: nothing is missed between two
        calls. Meant for one waiter, the jobs worker, whose `timeout` is its slow poll: the
        wake-up is a hint (on PostgreSQL a lost listener connection loses notifications
        until it is back), the table stays the truth.
        """
        try:
            # asyncio.timeout, not wait_for (which can swallow a cancellation on 3.11).
            async with asyncio.timeout(timeout):
                await self._jobs_queued.wait()
        except TimeoutError:
            return False
        self._jobs_queued.clear()
        return True

    @property
    def dialect_name(self) -> str:
        """The backend's SQLAlchemy dialect (`sqlite`, `postgresql`)."""
        return self._dialect_name

    def raw_reads(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A bare connection for storage's own bulk reads (copying a database)."""
        return self._reads()

    @asynccontextmanager
    async def raw_transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction's bare connection: committed when the block ends normally,
        rolled back on any error or cancellation (`transaction` builds on it; storage's own
        bulk work, copying a database, uses it directly)."""
        priority = Priority.BACKGROUND if is_background_work() else Priority.INTERACTIVE
        async with self._writes(priority) as connection:
            await to_completion(connection.begin().start())
            try:
                yield connection
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
