"""LISTEN for queued work on a connection of its own, and keep listening.

Every transaction that queues a job says NOTIFY (`storage.sql.jobs`); PostgreSQL delivers it
to every listening connection when the transaction commits, this process's own included. The
listener connection is outside the pool (a LISTEN belongs to its session). When it drops
(server restart, network), it is opened again with backoff; meanwhile, and for anything that
slipped by, the worker's slow poll (`Store.wait_for_jobs` timeout) covers. Each (re)connect
wakes the worker once, since work may have been queued while nobody listened.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

RETRY_FIRST = 0.5
RETRY_LONGEST = 30.0


class JobListener:
    """Calls `on_notice` for every notification on `channel`, for as long as it runs."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        channel: str,
        on_notice: Callable[[], None],
    ) -> None:
        self._connect = connect
        self._channel = channel
        self._on_notice = on_notice
        self._task: asyncio.Task[None] | None = None
        self._connection: asyncpg.Connection | None = None
        self._listening = asyncio.Event()

    async def start(self) -> None:
        """Connect and LISTEN; a failure of this first connection is raised."""
        connection = await self._listen()
        self._task = asyncio.create_task(self._keep_listening(connection), name="pg-listener")

    async def wait_listening(self) -> None:
        """Wait until a connection is listening (tests)."""
        await self._listening.wait()

    async def _listen(self) -> asyncpg.Connection:
        connection = await self._connect()
        try:
            await connection.add_listener(self._channel, self._notified)
        except BaseException:
            await _close(connection)
            raise
        self._connection = connection
        self._listening.set()
        return connection

    def _notified(self, *_notification: Any) -> None:
        self._on_notice()

    async def _keep_listening(self, connection: asyncpg.Connection) -> None:
        delay = RETRY_FIRST
        while True:
            lost = asyncio.Event()
            connection.add_termination_listener(functools.partial(_set, lost))
            try:
                await lost.wait()
            finally:
                self._listening.clear()
                await _close(connection)
            log.warning("postgres_listener_lost: listening again, the slow poll covers meanwhile")
            while True:
                await asyncio.sleep(delay)
                try:
                    connection = await self._listen()
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                    delay = min(delay * 2, RETRY_LONGEST)
                    continue
                delay = RETRY_FIRST
                # Work may have been queued while nobody listened.
                self._on_notice()
                break

    async def close(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._connection is not None:
            # Cancelled before it ever ran, the task closed nothing.
            await _close(self._connection)
            self._connection = None


def _set(event: asyncio.Event, *_connection: Any) -> None:
    event.set()


async def _close(connection: asyncpg.Connection) -> None:
    """Close politely if the connection still works, else drop it."""
    if connection.is_closed():
        return
    try:
        await asyncio.wait_for(connection.close(), timeout=2)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        connection.terminate()
