"""The storage contract suite: every test here runs against every backend.

A backend is a way to open stores on one fresh database: `sqlite` (a file in the test's
directory) and `postgres` (a database of its own on a throwaway server the suite starts once,
`tests/postgres.py`: without PostgreSQL binaries the `postgres` tests skip with one loud line;
under CI they fail).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from storage import Store, open_store, sqlite_url
from storage.sql.executor import Clock
from storage.sql.store import SqlStore
from tests.storage.support import at
from tests.support.postgres import TEMPLATE, PostgresServer

BACKENDS = ["sqlite", "postgres"]


class Backend:
    """Opens stores on one database of one backend, and moves its lease clock."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url

    async def open(self, *, clock: Clock | None = None) -> Store:
        """A store on this backend's database."""
        return await open_store(self.url, clock=clock)


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """A fresh database on each backend."""
    name = request.param
    if name == "sqlite":
        yield Backend(name, sqlite_url(tmp_path / "socialpost.db"))
        return
    # The session fixture by name: only the `postgres` tests need (or skip for) the server.
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = await server.create_database(template=TEMPLATE)
    yield Backend(name, url)
    await server.drop_database(url)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    """An open store on a fresh database, closed after the test."""
    opened = await backend.open()
    yield opened
    await opened.close()


class Timeline:
    """Test time for the jobs: claims happen at `at(t)`; leases run on the backend's lease
    clock, which is that same `at(t)` on SQLite and the database's own clock on PostgreSQL.
    Moving on to `t` moves PostgreSQL's leases back by as much, which is what that much time
    passing does to them."""

    def __init__(self, backend: Backend, store: Store) -> None:
        self.backend = backend
        self.store = store
        self.t = 0.0

    async def move_to(self, t: float) -> datetime:
        """Let the time go on to `at(t)`; returns `at(t)`."""
        if t > self.t and self.backend.name == "postgres":
            assert isinstance(self.store, SqlStore)
            async with self.store.raw_transaction() as connection:
                await connection.execute(
                    text(
                        "UPDATE retry_jobs SET lease = lease - make_interval(secs => :seconds)"
                        " WHERE lease IS NOT NULL"
                    ),
                    {"seconds": t - self.t},
                )
        self.t = max(self.t, t)
        return at(t)

    async def lease_clock(self) -> datetime:
        """The lease clock's reading now."""
        if self.backend.name == "postgres":
            assert isinstance(self.store, SqlStore)
            async with self.store.raw_reads() as connection:
                reading = await connection.execute(select(func.clock_timestamp()))
                moment: datetime = reading.scalar_one()
                return moment
        return at(self.t)


@pytest.fixture
def timeline(backend: Backend, store: Store) -> Timeline:
    """The test's time, starting at `at(0)`."""
    return Timeline(backend, store)
