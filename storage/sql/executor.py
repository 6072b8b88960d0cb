"""Where a repository's statements run."""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import Executable, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")

Clock = Callable[[], datetime]
"""Returns the current time, aware and in UTC."""


def system_clock() -> datetime:
    """The machine's clock."""
    return datetime.now(UTC)


@types.coroutine
def _go_on(operation: Coroutine[Any, Any, T], waiting_for: Any) -> Generator[Any, Any, T]:
    """Drive `operation`, already started and now waiting for `waiting_for`, to its end (what
    a task would have done from its first step on)."""
    while True:
        try:
            sent = yield waiting_for
        except BaseException as error:  # thrown in by the task (a cancellation)
            try:
                waiting_for = operation.throw(error)
            except StopIteration as done:
                result: T = done.value
                return result
        else:
            try:
                waiting_for = operation.send(sent)
            except StopIteration as done:
                result = done.value
                return result


async def to_completion(
    operation: Coroutine[Any, Any, T],
    *,
    undo: Callable[[T], Coroutine[Any, Any, Any]] | None = None,
    eager: bool = False,
) -> T:
    """Run one database operation to its end even if the caller is cancelled meanwhile; the
    cancellation is raised once it is done (after `undo(result)`, if given: a connection
    checked out for a caller that is gone goes back).

    A statement cut off half-way would leave its connection with an unfinished statement: the
    connection can then neither be reused nor really closed (SQLite keeps it, and its write
    lock, until the statement is finalised). So cancellation takes effect between statements,
    never inside one.

    `eager`: the operation's first step runs at once, in the caller's task: one that finishes
    without waiting (SQLite's writer, inside its transaction) costs no task and no turns of
    the event loop, which a busy loop would make long while the one writer's turn is held.
    Only for operations that set no timeout of their own (a pool's checkout does: its
    `asyncio.timeout` would belong to the caller's task and cancel the caller, not the
    operation).
    """
    if eager:
        try:
            waiting_for = operation.send(None)
        except StopIteration as done:
            result: T = done.value
            return result
        task = asyncio.ensure_future(_go_on(operation, waiting_for))
    else:
        task = asyncio.ensure_future(operation)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError as error:
            cancelled = error
            if task.done():
                if task.cancelled() or task.exception() is not None:
                    raise
                # Done in the same turn as the cancellation: its result still counts.
                result = task.result()
                break
        else:
            break
    if cancelled is not None:
        if undo is not None:
            await to_completion(undo(result))
        raise cancelled
    return result


class Executor(Protocol):
    """Runs one statement and returns its rows (none for a statement without RETURNING)."""

    dialect_name: str

    async def all(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> list[RowMapping]:
        """Run `statement` with `parameters`; every row it returned."""

    def now(self) -> datetime:
        """The time to stamp rows with."""

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A block whose statements are undone alone if it raises (the transaction goes on)."""

    def note_jobs_queued(self) -> bool:
        """Remember that the transaction queued work; True the first time."""


class StampClock:
    """A clock whose readings strictly increase, so timestamps also order rows made in one
    process (several posts of one request are created within the same microsecond)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last = datetime.min.replace(tzinfo=UTC)

    def __call__(self) -> datetime:
        """The current time, at least a microsecond after the previous reading."""
        moment = self._clock().astimezone(UTC)
        if moment <= self._last:
            moment = self._last + timedelta(microseconds=1)
        self._last = moment
        return moment


Connections = Callable[[], AbstractAsyncContextManager[AsyncConnection]]
"""Lends a connection for one read: the caller has it to itself for the block."""


async def _rows(
    connection: AsyncConnection, statement: Executable, parameters: Mapping[str, Any] | None
) -> list[RowMapping]:
    result = await connection.execute(statement, parameters)
    return list(result.mappings()) if result.returns_rows else []


class ConnectionExecutor:
    """Statements on one connection: the connection of a write transaction."""

    def __init__(self, connection: AsyncConnection, clock: Clock) -> None:
        self._connection = connection
        self.now = clock
        self.dialect_name = connection.dialect.name
        self.jobs_queued = False
        self._eager = self.dialect_name == "sqlite"

    async def all(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> list[RowMapping]:
        """Run `statement` inside the transaction (at once on SQLite, whose writer runs its
        statements on the loop: `storage.sqlite.driver`)."""
        return await to_completion(
            _rows(self._connection, statement, parameters), eager=self._eager
        )

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """SAVEPOINT ... RELEASE, or ROLLBACK TO it when the block raises."""
        nested = self._connection.begin_nested()
        await to_completion(nested.start())
        try:
            yield
        except BaseException:
            await to_completion(nested.rollback())
            raise
        await to_completion(nested.commit())

    def note_jobs_queued(self) -> bool:
        """Remember that the transaction queued work; True the first time."""
        first = not self.jobs_queued
        self.jobs_queued = True
        return first


class ReadExecutor:
    """Reads outside a transaction: each statement borrows a connection, runs alone on it and
    gives it back, so no read keeps an old snapshot alive."""

    def __init__(self, connections: Connections, dialect_name: str, clock: Clock) -> None:
        self._connections = connections
        self.now = clock
        self.dialect_name = dialect_name

    async def all(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> list[RowMapping]:
        """Run `statement` on a connection of its own."""
        return await to_completion(self._borrowing(statement, parameters))

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """Reads don't write: no savepoints outside a transaction."""
        raise TypeError("a savepoint needs a transaction")

    def note_jobs_queued(self) -> bool:
        """Reads don't queue anything."""
        raise TypeError("queueing work needs a transaction")

    async def _borrowing(
        self, statement: Executable, parameters: Mapping[str, Any] | None
    ) -> list[RowMapping]:
        async with self._connections() as connection:
            return await _rows(connection, statement, parameters)
