"""The SQLite database: connections, PRAGMAs, migrations and transactions.

One process owns the database, and holds an OS lock on a sibling file (`<db>.lock`) for its
whole life to make sure: a second process on the same file refuses to start. The OS drops the
lock when the process dies, even by kill -9, so whatever an earlier process left running is
known to be abandoned. Writes go through a single writer connection, serialised by an
`asyncio.Lock` and run as `BEGIN IMMEDIATE` transactions: aiosqlite runs every statement of a
connection on one thread, so two tasks sharing a connection would otherwise interleave their
transactions. Reads use a second, read-only connection; in WAL mode they never wait for a writer.
The reader has a lock too: SQLite keeps a read snapshot while any statement of a connection is
open, so overlapping reads from many tasks would keep one old snapshot alive and see stale rows.
Each read runs alone and starts from the latest commit.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Iterable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Self

import aiosqlite

from storage.audit import AuditLog
from storage.jobs import JobRepository
from storage.posts import PostRepository

BUSY_TIMEOUT_MS = 5000


class DatabaseError(Exception):
    """The database can't be used by this version of socialpost."""


class DatabaseInUse(DatabaseError):
    """Another process holds the database's lock: SQLite is one process per file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"another socialpost process is using the database {path}. A SQLite database "
            "belongs to one process: stop the other one or give this one its own "
            "SOCIALPOST_DB_PATH. To run several processes on one database, use PostgreSQL "
            "(SOCIALPOST_DATABASE_URL)."
        )


class PriorityLock:
    """An asyncio lock that hands itself to urgent waiters before ordinary ones.

    Writes made for a person waiting on Slack (a submission, a click) go ahead of the
    background work (the retry-table worker, finished drafts), so a backlog of the latter never
    delays an answer. Within each class, first come, first served.
    """

    def __init__(self) -> None:
        self._locked = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._ordinary: deque[asyncio.Future[None]] = deque()

    async def acquire(self, *, urgent: bool) -> None:
        """Wait for the lock."""
        if not self._locked and not self._urgent and not self._ordinary:
            self._locked = True
            return
        waiter = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._ordinary).append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # The lock was handed to us as we were cancelled: pass it on.
                self.release()
            raise

    def release(self) -> None:
        """Hand the lock to the next waiter, urgent ones first."""
        for queue in (self._urgent, self._ordinary):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._locked = False


class SerialReader:
    """A read-only connection used by one statement at a time (see the module docstring)."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def execute(
        self, sql: str, parameters: Iterable[Any] = ()
    ) -> AsyncIterator[aiosqlite.Cursor]:
        """Run one query; the cursor is closed (ending the snapshot) before the next one."""
        async with self._lock:
            cursor = await self._connection.execute(sql, parameters)
            try:
                yield cursor
            finally:
                await cursor.close()

    async def close(self) -> None:
        """Close the connection."""
        await self._connection.close()


class Transaction:
    """Repositories bound to the writer connection inside one `BEGIN IMMEDIATE` transaction."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self.connection = connection
        self.posts = PostRepository(connection)
        self.jobs = JobRepository(connection)
        self.audit = AuditLog(connection)


def migrations() -> list[tuple[int, str, str]]:
    """The numbered migrations shipped with the package: (number, name, sql), in order."""
    found = []
    for entry in resources.files("storage").joinpath("migrations").iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found)


async def schema_version(connection: aiosqlite.Connection) -> int:
    """The number of the last migration applied to this database."""
    async with connection.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def migrate(connection: aiosqlite.Connection, target: int | None = None) -> list[int]:
    """Apply the migrations newer than the database, each in its own transaction.

    An existing database is upgraded in place, never dropped. Returns the numbers applied.
    """
    current = await schema_version(connection)
    available = migrations()
    latest = available[-1][0] if available else 0
    if current > latest:
        raise DatabaseError(
            f"the database is at schema version {current}, newer than this socialpost "
            f"knows ({latest}); upgrade socialpost or point SOCIALPOST_DB_PATH elsewhere"
        )
    applied = []
    for number, _name, sql in available:
        if number <= current or (target is not None and number > target):
            continue
        try:
            await connection.executescript(
                f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;"
            )
        except Exception:
            if connection.in_transaction:
                await connection.rollback()
            raise
        applied.append(number)
    return applied


async def _connect(target: str, *, uri: bool = False) -> aiosqlite.Connection:
    connection = await aiosqlite.connect(target, isolation_level=None, uri=uri)
    connection.row_factory = aiosqlite.Row
    await connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await connection.execute("PRAGMA foreign_keys = ON")
    return connection


def _create_private_file(path: Path) -> None:
    # The file may hold drafts and user ids: readable by the owner only.
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(descriptor)


def lock_path(path: Path) -> Path:
    """The file whose OS lock says which process owns the database at `path`."""
    return path.with_name(f"{path.name}.lock")


def _lock(path: Path) -> int:
    """Take the database's process lock, or raise `DatabaseInUse`; returns its descriptor.

    `flock` rather than the filelock package: on a filesystem without flock that package
    falls back to a lock *file*, which a killed process leaves behind, and the restart would
    then refuse to start.
    """
    descriptor = os.open(lock_path(path), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise DatabaseInUse(path.resolve()) from None
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def _unlock(descriptor: int) -> None:
    fcntl.flock(descriptor, fcntl.LOCK_UN)
    os.close(descriptor)


async def _to_completion(operation: Awaitable[Any]) -> None:
    """Await `operation`; if the caller is cancelled meanwhile, still wait until it is done
    (it runs on the connection's thread either way), then pass the cancellation on.

    Without this a cancelled `BEGIN` would go on to open a transaction nobody ends.
    """
    running = asyncio.ensure_future(operation)
    interrupted: asyncio.CancelledError | None = None
    while not running.done():
        try:
            # Unlike a plain await, waiting doesn't cancel `running` when we are cancelled.
            await asyncio.wait([running])
        except asyncio.CancelledError as exc:
            interrupted = exc
    if interrupted is not None:
        if not running.cancelled():
            running.exception()  # seen: the cancellation is what the caller gets
        raise interrupted
    running.result()


class Database:
    """Open for the life of the process: `await Database.open(path)` ... `await db.close()`."""

    def __init__(
        self,
        path: Path,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        *,
        lock: int,
    ) -> None:
        self.path = path
        self._process_lock = lock
        self._writer = writer
        self._reader = SerialReader(reader)
        self._write_lock = PriorityLock()
        self.posts = PostRepository(self._reader)
        self.jobs = JobRepository(self._reader)
        self.audit = AuditLog(self._reader)

    @classmethod
    async def open(cls, path: Path | str, *, migrate_to: int | None = None) -> Self:
        """Take the database's process lock, create or upgrade it, and connect to it.

        Raises `DatabaseInUse` when another process has it open.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = _lock(path)
        writer: aiosqlite.Connection | None = None
        try:
            if not path.exists():
                _create_private_file(path)
            writer = await _connect(str(path))
            async with writer.execute("PRAGMA journal_mode = WAL") as cursor:
                await cursor.fetchone()
            # WAL with synchronous=NORMAL survives a killed process; only power loss may
            # drop the last transactions.
            await writer.execute("PRAGMA synchronous = NORMAL")
            await migrate(writer, target=migrate_to)
            reader = await _connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        except BaseException:
            if writer is not None:
                await writer.close()
            _unlock(lock)
            raise
        return cls(path, writer, reader, lock=lock)

    @asynccontextmanager
    async def transaction(self, *, urgent: bool = False) -> AsyncIterator[Transaction]:
        """One `BEGIN IMMEDIATE` transaction; commits on success, rolls back on any error.

        `urgent` transactions (someone in Slack is waiting) go before background ones.
        """
        await self._write_lock.acquire(urgent=urgent)
        try:
            # BEGIN inside the guarded block: a cancellation while it waits must still end
            # the transaction it opens, or the writer stays inside it for good.
            await _to_completion(self._writer.execute("BEGIN IMMEDIATE"))
            yield Transaction(self._writer)
            await _to_completion(self._writer.commit())
        except BaseException:
            await _to_completion(self._rollback_if_open())
            raise
        finally:
            self._write_lock.release()

    async def _rollback_if_open(self) -> None:
        # Every statement of this transaction has been handed to the connection's thread,
        # which runs them in order: ROLLBACK queued now comes after them all.
        if self._writer.in_transaction:
            await self._writer.rollback()

    async def close(self) -> None:
        """Close both connections, then let another process have the file."""
        try:
            await self._reader.close()
            await self._writer.close()
        finally:
            _unlock(self._process_lock)
