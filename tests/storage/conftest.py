"""The storage contract suite: every test here runs against every backend.

A backend is a way to open stores on one fresh database. Only SQLite exists today; issue 13
adds `postgres` to `BACKENDS` (a throwaway server) and every test runs against it too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import Store, open_store, sqlite_url
from storage.sql.executor import Clock

BACKENDS = ["sqlite"]


class Backend:
    """Opens stores on one database of one backend."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url

    async def open(self, *, clock: Clock | None = None) -> Store:
        """A store on this backend's database."""
        return await open_store(self.url, clock=clock)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """A fresh database on each backend."""
    name = request.param
    if name == "sqlite":
        return Backend(name, sqlite_url(tmp_path / "socialpost.db"))
    raise AssertionError(f"unknown backend {name}")


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    """An open store on a fresh database, closed after the test."""
    opened = await backend.open()
    yield opened
    await opened.close()
