"""aiosqlite with one trip to the connection's thread per statement.

SQLAlchemy's aiosqlite adapter makes four trips from the event loop to aiosqlite's thread for
every statement: create the cursor, execute, fetch the rows, close the cursor. Each trip is a
queue hand-off and a wake-up of the loop (about 0.2 ms here, more when the loop is busy), so a
statement cost ~0.8 ms, and a write transaction held the one writer lock for that long per
statement. `OneTripConnection` gives SQLAlchemy cursors that execute, fetch every row and close
the sqlite3 cursor in ONE call on the thread; creating and closing them costs no trip at all.

The writer goes further (`inline_transactions`): once its BEGIN IMMEDIATE has returned (on
the thread: that is where SQLite may wait, busy_timeout, for anything else holding the file),
the transaction's statements run on the event loop itself, and COMMIT or ROLLBACK go back to
the thread (a commit may checkpoint, which syncs the disk). Inside a write transaction that
holds SQLite's write lock no statement waits for a lock (WAL: readers never block the writer),
so a statement costs only its own few microseconds of SQLite. On the thread it also cost a
wake-up of the busy loop; the writer's turn (`Turns`, which every write waits for) was
held for all of them: under a burst of API requests, three quarters of each turn.

The loop reads only what a finished cursor keeps (`description`, `rowcount`, `lastrowid`).
It uses aiosqlite's `_execute` (run a function on the connection's thread) and `_conn`,
hence the pinned aiosqlite range in pyproject.toml.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Self

import aiosqlite

Row = tuple[Any, ...]


class OneTripCursor:
    """A cursor whose `execute` runs the statement and fetches its rows in one trip."""

    arraysize = 1

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self._rows: list[Row] = []
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    def _run(self, work: Callable[[sqlite3.Cursor], object]) -> None:
        """On the connection's thread: run `work` on a fresh sqlite3 cursor, keep its rows and
        what it reports, close it."""
        cursor = self._connection.sqlite().cursor()
        try:
            work(cursor)
            self._rows = cursor.fetchall() if cursor.description else []
            self.description = cursor.description
            self.rowcount = cursor.rowcount
            self.lastrowid = cursor.lastrowid
        finally:
            cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Self:
        """Run one statement (and fetch its rows): on the connection's thread, or at once
        inside the writer's transaction."""
        given = () if parameters is None else parameters
        await self._connection.run(self._run, lambda cursor: cursor.execute(sql, given))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Self:
        """Run one statement for each set of parameters, in one trip."""
        rows = list(parameters)
        await self._connection.run(self._run, lambda cursor: cursor.executemany(sql, rows))
        return self

    async def fetchall(self) -> list[Row]:
        """The rows not fetched yet (no trip: they came with `execute`)."""
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Row | None:
        """The next row, or None."""
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Row]:
        """Up to `size` more rows."""
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def close(self) -> None:
        """Nothing to close (the sqlite3 cursor was closed on the thread)."""
        self._rows = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()


class _NewCursor:
    """What `cursor()` returns: awaitable, or an async context manager, like aiosqlite's."""

    def __init__(self, connection: OneTripConnection) -> None:
        self._cursor = OneTripCursor(connection)

    def __await__(self) -> Any:
        return self._cursor.__aenter__().__await__()

    async def __aenter__(self) -> OneTripCursor:
        return self._cursor

    async def __aexit__(self, *_exc: object) -> None:
        await self._cursor.close()


class OneTripConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors make one trip to its thread per statement (none
    inside a write transaction, with `inline_transactions`)."""

    def __init__(self, *args: Any, inline_transactions: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inline_transactions = inline_transactions
        self._inline = False

    async def begin_immediate(self) -> None:
        """BEGIN IMMEDIATE on the thread (it may wait for the file's lock); then, with
        `inline_transactions`, the transaction's statements run on the caller's thread."""
        await self.on_thread(self._begin)
        self._inline = self._inline_transactions

    def _begin(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE").close()

    async def commit(self) -> None:
        """COMMIT, on the thread."""
        self._inline = False
        await super().commit()

    async def rollback(self) -> None:
        """ROLLBACK, on the thread."""
        self._inline = False
        await super().rollback()

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run `function(*args)`: at once inside an inline transaction, else on the
        connection's thread."""
        if self._inline:
            return function(*args)
        return await self.on_thread(function, *args)

    def cursor(self) -> Any:  # SQLAlchemy awaits it or enters it
        """A cursor, made without a trip to the thread."""
        return _NewCursor(self)

    def sqlite(self) -> sqlite3.Connection:
        """The sqlite3 connection (to be used on the connection's thread only)."""
        return self._conn

    async def on_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run `function(*args)` on the connection's thread."""
        return await self._execute(function, *args)  # type: ignore[no-untyped-call]


def connect(
    database: str, *, inline_transactions: bool = False, **kwargs: Any
) -> OneTripConnection:
    """Like `aiosqlite.connect`, with one trip per statement (and none inside a write
    transaction, with `inline_transactions`)."""
    if inline_transactions:
        # Its statements run on the event loop's thread too (never at the same time as on
        # its own: the thread only BEGINs, COMMITs and ROLLs BACK, and each is awaited).
        kwargs["check_same_thread"] = False
    return OneTripConnection(
        lambda: sqlite3.connect(database, **kwargs),
        iter_chunk_size=64,
        inline_transactions=inline_transactions,
    )
