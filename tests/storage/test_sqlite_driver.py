"""The one-trip aiosqlite driver (`storage.sqlite.driver`): a statement's rows, counts and
errors come back from one call on the connection's thread, as sqlite3 gives them; the
writer's statements inside a transaction run on the caller's thread."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from storage.sqlite.driver import OneTripCursor, connect


async def test_a_statement_brings_its_rows_and_counts_in_one_trip(tmp_path: Path) -> None:
    """execute fetches every row; fetchone, fetchmany and fetchall hand them out without
    another trip; rowcount and lastrowid are sqlite3's."""
    connection = await connect(str(tmp_path / "t.db"), isolation_level=None)
    try:
        async with connection.cursor() as cursor:
            assert isinstance(cursor, OneTripCursor)
            await cursor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
            await cursor.execute("INSERT INTO t (name) VALUES (?)", ("a",))
            assert cursor.lastrowid == 1 and cursor.rowcount == 1
            await cursor.executemany("INSERT INTO t (name) VALUES (?)", [("b",), ("c",), ("d",)])
            assert cursor.rowcount == 3
            await cursor.execute("SELECT id, name FROM t ORDER BY id")
            assert [column[0] for column in cursor.description] == ["id", "name"]
            assert await cursor.fetchone() == (1, "a")
            assert await cursor.fetchmany(2) == [(2, "b"), (3, "c")]
            assert await cursor.fetchall() == [(4, "d")]
            assert await cursor.fetchall() == []
            await cursor.execute("UPDATE t SET name = 'z' WHERE id > 2")
            assert cursor.rowcount == 2 and cursor.description is None
    finally:
        await connection.close()


async def test_an_error_comes_back_and_the_connection_goes_on(tmp_path: Path) -> None:
    """A failing statement raises sqlite3's error in the caller; the connection keeps
    working (its cursor was closed on the thread either way)."""
    connection = await connect(str(tmp_path / "t.db"), isolation_level=None)
    try:
        cursor = await connection.cursor()
        await cursor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        await cursor.execute("INSERT INTO t (id) VALUES (1)")
        with pytest.raises(sqlite3.IntegrityError):
            await cursor.execute("INSERT INTO t (id) VALUES (1)")
        await cursor.execute("SELECT count(*) FROM t")
        assert await cursor.fetchall() == [(1,)]
    finally:
        await connection.close()


async def test_a_write_transaction_runs_its_statements_on_the_callers_thread(
    tmp_path: Path,
) -> None:
    """With `inline_transactions`, the statements between BEGIN IMMEDIATE and COMMIT (or
    ROLLBACK) run on the event loop's own thread; outside a transaction, statements run on
    the connection's thread. What each wrote stays written, or is undone."""
    connection = await connect(
        str(tmp_path / "t.db"), isolation_level=None, inline_transactions=True
    )
    loop_thread = threading.get_ident()
    try:
        # Evaluated by whichever thread runs the statement.
        await connection.create_function("thread_id", 0, threading.get_ident)
        cursor = await connection.cursor()
        await cursor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, thread INTEGER)")
        await cursor.execute("INSERT INTO t VALUES (1, thread_id())")
        await connection.begin_immediate()
        await cursor.execute("INSERT INTO t VALUES (2, thread_id())")
        await connection.commit()
        await connection.begin_immediate()
        await cursor.execute("INSERT INTO t VALUES (3, thread_id())")
        await connection.rollback()
        await cursor.execute("SELECT id, thread = ? FROM t ORDER BY id", (loop_thread,))
        assert await cursor.fetchall() == [(1, 0), (2, 1)]
    finally:
        await connection.close()
