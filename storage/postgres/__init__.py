"""The PostgreSQL backend: any number of socialpost processes, on any number of machines,
share one database.

What is kept here, and why:

- READ COMMITTED (PostgreSQL's default). Every state change is one conditional
  `UPDATE ... WHERE ... RETURNING`: two processes changing one row queue up on its row lock,
  and the second re-checks the WHERE on the row as the first left it, so exactly one wins. No
  transaction reads something and then writes on the strength of it without a lock.
- The jobs' claim is one statement per batch with `FOR UPDATE SKIP LOCKED`; leases are on the
  database's clock (`storage.sql.dialect`); finishing is fenced by the lease owner; at most
  one running job per key is a unique index (`storage.sql.jobs`).
- A pool of `pool_size` connections per process (`SOCIALPOST_DATABASE_POOL_SIZE`, default
  `POOL_SIZE`) for reads and write transactions, plus one connection that LISTENs for queued
  work (`listener`). Size it so that processes x (pool_size + 1) stays under the server's
  `max_connections` (100 by default: 10 processes at the default size use 60).
- Borrowers wait for a connection in `Turns` (as many as the pool has), not in the pool's
  first-come queue: a read goes first (a card's read of its post waited ~150 ms behind the
  queued write transactions, then held the connection for 3), and interactive and
  background writes take turns.
- Reads run in autocommit mode on a pooled connection each: no BEGIN/ROLLBACK round trips,
  and every read sees the latest commit.
- Migrations run under an advisory lock (`MIGRATION_LOCK`), so processes started together
  apply them once, one after the other.
- The password never leaves this module: messages name the database with `***` for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import Connection, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storage import migrations
from storage.errors import StorageError, StorageUnavailable
from storage.postgres.listener import JobListener
from storage.sql.dialect import JOBS_CHANNEL
from storage.sql.executor import Clock, StampClock, system_clock, to_completion
from storage.sql.store import SqlStore
from storage.sql.turns import Priority, Turns

POOL_SIZE = 5
"""Pooled connections per process by default (plus the listener's one)."""
CONNECT_TIMEOUT = 10.0
"""Seconds to wait for the server to accept a connection (asyncpg's default is 60)."""
MIGRATION_LOCK = 0x736F6369616C7031
"""The advisory lock id taken around migrations ("socialp1")."""
SCHEMES = ("postgresql", "postgres")


def postgres_url(url: str | URL) -> URL:
    """`url` as SQLAlchemy's asyncpg URL: `postgres://` and `postgresql://` (with any driver
    named) become `postgresql+asyncpg://`; libpq's `sslmode` becomes asyncpg's `ssl`."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        raise StorageError(
            "the database URL is not a URL (expected postgresql://user:password@host:port/db)"
        ) from None
    if parsed.get_backend_name() not in SCHEMES:
        raise StorageError(f"not a PostgreSQL URL: {shown(parsed)}")
    parsed = parsed.set(drivername="postgresql+asyncpg")
    if "sslmode" in parsed.query and "ssl" not in parsed.query:
        parsed = parsed.update_query_dict({"ssl": parsed.query["sslmode"]}).difference_update_query(
            ["sslmode"]
        )
    return parsed


def shown(url: URL) -> str:
    """The URL for a person to read: its password is `***`, and no driver is named."""
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def reason(error: BaseException, url: URL) -> str:
    """What went wrong, in the driver's words (not SQLAlchemy's wrapping), without the
    password."""
    cause: BaseException = error
    if isinstance(error, DBAPIError) and error.orig is not None:
        cause = error.orig.__cause__ or error.orig
    message = str(cause).strip() or type(cause).__name__
    password = url.password
    if password:
        message = message.replace(str(password), "***")
    return message


def _connect_arguments(engine: AsyncEngine) -> dict[str, Any]:
    """The keyword arguments of `asyncpg.connect` for the engine's database."""
    _args, arguments = engine.dialect.create_connect_args(engine.url)
    arguments.update(_CONNECT_ARGS)
    return dict(arguments)


_CONNECT_ARGS: dict[str, Any] = {
    "timeout": CONNECT_TIMEOUT,
    "server_settings": {"application_name": "socialpost"},
}


@asynccontextmanager
async def _lent(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A pooled connection for the block, back in the pool after it (also when the borrower
    is cancelled while it is being checked out)."""
    connection = await to_completion(engine.connect().start(), undo=_give_back)
    try:
        yield connection
    finally:
        await to_completion(connection.close())


async def _give_back(connection: AsyncConnection) -> None:
    await connection.close()


def migrate(connection: Connection) -> None:
    """Bring the database to the newest schema, one process at a time: the first takes the
    advisory lock and migrates in one transaction; the others wait for it, then find nothing
    left to do (each statement under READ COMMITTED sees what the first committed)."""
    with connection.begin():
        connection.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": MIGRATION_LOCK})
        migrations.upgrade(connection)


async def open_postgres_store(
    url: str | URL, *, clock: Clock | None = None, pool_size: int = POOL_SIZE
) -> SqlStore:
    """Connect to the PostgreSQL database at `url`, create or upgrade its schema, and open it.

    Raises `StorageUnavailable` (naming the database, never its password) when the server
    can't be reached or refuses us, and `SchemaTooNew` for a database written by a newer
    socialpost.
    """
    parsed = postgres_url(url)
    engine = create_async_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=0,
        isolation_level="READ COMMITTED",
        connect_args=_CONNECT_ARGS,
        # A statement's parameters would show up in logs and errors otherwise.
        hide_parameters=True,
    )
    listener: JobListener | None = None
    try:
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
        arguments = _connect_arguments(engine)
        store_clock = StampClock(clock or system_clock)

        # As many turns as pooled connections: a borrower waits here, by priority, never in
        # the pool's own first-come queue.
        turns = Turns(pool_size)

        @asynccontextmanager
        async def reads() -> AsyncIterator[AsyncConnection]:
            async with turns.turn(Priority.READ), _lent(engine) as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                yield connection

        @asynccontextmanager
        async def writes(priority: Priority) -> AsyncIterator[AsyncConnection]:
            async with turns.turn(priority), _lent(engine) as connection:
                yield connection

        async def close() -> None:
            try:
                if listener is not None:
                    await listener.close()
            finally:
                await engine.dispose()

        store = SqlStore(
            dialect_name=engine.dialect.name,
            reads=reads,
            writes=writes,
            clock=store_clock,
            on_close=close,
        )
        listener = JobListener(
            lambda: asyncpg.connect(**arguments), JOBS_CHANNEL, store.jobs_queued
        )
        await listener.start()
    except (SQLAlchemyError, OSError, asyncpg.PostgresError, TimeoutError) as exc:
        if listener is not None:
            await listener.close()
        await engine.dispose()
        raise StorageUnavailable(
            f"can't open the PostgreSQL database {shown(parsed)}: {reason(exc, parsed)}"
        ) from None
    except BaseException:
        if listener is not None:
            await listener.close()
        await engine.dispose()
        raise
    return store
