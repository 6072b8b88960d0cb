"""aiosqlite with one trip to the connection's thread per statement.

SQLAlchemy's aiosqlite adapter makes four trips from the event loop to aiosqlite's thread for
every statement: create the cursor, execute, fetch the rows, close the cursor. Each trip is a
queue hand-off and a wake-up of the loop (about 0.2 ms here, more when the loop is busy), so a
statement cost ~0.8 ms, and a write transaction held the one writer lock for that long per
statement. `OneTripConnection` gives SQLAlchemy cursors that execute, fetch every row and close
the sqlite3 cursor in ONE call on the thread; creating and closing them costs no trip at all.

The sqlite3 objects are only ever used on the connection's thread (what sqlite3 checks); the
loop reads only what a finished cursor keeps (`description`, `rowcount`, `lastrowid`).
Running the statements on the event loop itself measured ~15% faster still, but a statement
that waits (busy_timeout, when a backup holds the file) would then stop every ack: not done. It uses
aiosqlite's `_execute` (run a function on the connection's thread) and `_conn`, hence the
pinned aiosqlite range in pyproject.toml.
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
        """Run one statement (and fetch its rows) on the connection's thread."""
        given = () if parameters is None else parameters
        await self._connection.on_thread(self._run, lambda cursor: cursor.execute(sql, given))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Self:
        """Run one statement for each set of parameters, in one trip."""
        rows = list(parameters)
        await self._connection.on_thread(self._run, lambda cursor: cursor.executemany(sql, rows))
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
    """An aiosqlite connection whose cursors make one trip to its thread per statement."""

    def cursor(self) -> Any:  # SQLAlchemy awaits it or enters it
        """A cursor, made without a trip to the thread."""
        return _NewCursor(self)

    def sqlite(self) -> sqlite3.Connection:
        """The sqlite3 connection (to be used on the connection's thread only)."""
        return self._conn

    async def on_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run `function(*args)` on the connection's thread."""
        return await self._execute(function, *args)  # type: ignore[no-untyped-call]


def connect(database: str, **kwargs: Any) -> OneTripConnection:
    """Like `aiosqlite.connect`, with one trip per statement."""
    return OneTripConnection(lambda: sqlite3.connect(database, **kwargs), iter_chunk_size=64)
