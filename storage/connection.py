"""What a repository needs from a connection, and the base every repository shares."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import aiosqlite


class Queries(Protocol):
    """Runs SQL: an aiosqlite connection (inside a transaction) or the serial reader."""

    def execute(
        self, sql: str, parameters: Iterable[Any] = ...
    ) -> AbstractAsyncContextManager[aiosqlite.Cursor]:
        """Run one statement; the cursor is usable inside the `async with`."""


class Repository:
    """SQL for one part of the data model, over a connection given at construction."""

    def __init__(self, connection: Queries) -> None:
        self._db = connection

    async def _run(self, sql: str, parameters: Iterable[Any] = ()) -> None:
        """Run a statement that returns no rows."""
        async with self._db.execute(sql, parameters):
            pass
