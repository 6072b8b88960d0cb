"""Copying a socialpost database into an empty one (`socialpost migrate-to URL`): every row of
every table (platforms, posts, versions, publishing steps, jobs, audit log), with its id and
its times, in one transaction of the target.

The source is opened like the bot opens it (the SQLite file's lock is taken, so a bot still
running on it makes the copy refuse, and its schema is brought up to date first); the target
is created or upgraded the same way, then must hold no posts, versions, steps, jobs or audit
entries. Its platforms (seeded by the migrations) give way to the source's, whose ids the
posts name. Id sequences continue after the highest id the source ever handed out, so ids
are never reused.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import backend_of, open_store
from storage.errors import DatabaseNotEmpty, StorageError
from storage.schema import (
    audit_log,
    post_versions,
    posts,
    publish_steps,
    retry_jobs,
    social_platforms,
)
from storage.sql.store import SqlStore

TABLES = (social_platforms, posts, post_versions, publish_steps, retry_jobs, audit_log)
"""Every table, each after the tables it refers to."""
DATA_TABLES = TABLES[1:]
"""The tables a target must have empty (the platforms are the migrations' seed)."""
BATCH = 500


@dataclass(frozen=True)
class Copied:
    """How many rows of each table were copied."""

    rows: dict[str, int]

    def summary(self) -> str:
        """`3 social_platforms, 10 posts, ...`."""
        return ", ".join(f"{count} {table}" for table, count in self.rows.items())


async def copy_database(source_url: str, target_url: str) -> Copied:
    """Copy the database at `source_url` into the empty one at `target_url`.

    Raises `DatabaseNotEmpty` when the target holds data, and whatever `open_store` raises
    for either database (`StoreLocked` while a bot runs on the SQLite file).
    """
    if backend_of(target_url) != "postgresql":
        raise StorageError(
            "the target of a copy is a PostgreSQL database: postgresql://user:password@host/db"
        )
    source = await open_store(source_url)
    try:
        target = await open_store(target_url)
        try:
            assert isinstance(source, SqlStore)
            assert isinstance(target, SqlStore)
            return await _copy(source, target)
        finally:
            await target.close()
    finally:
        await source.close()


async def _copy(source: SqlStore, target: SqlStore) -> Copied:
    copied: dict[str, int] = {}
    async with target.raw_transaction() as out:
        found = {table.name: await _count(out, table) for table in DATA_TABLES}
        if any(found.values()):
            held = ", ".join(f"{count} {name}" for name, count in found.items() if count)
            raise DatabaseNotEmpty(
                f"the target database already holds data ({held}): migrate-to copies into an"
                " empty database only"
            )
        await out.execute(delete(social_platforms))
        async with source.raw_reads() as reading:
            for table in TABLES:
                copied[table.name] = await _copy_table(reading, out, table)
            highest = await _highest_ids(reading)
        for table in (retry_jobs, audit_log):
            await _continue_sequence(out, table, highest[table.name])
    return Copied(copied)


async def _count(connection: AsyncConnection, table: Table) -> int:
    return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


async def _copy_table(reading: AsyncConnection, out: AsyncConnection, table: Table) -> int:
    """Every row of `table`, in primary key order, in batches."""
    result = await reading.stream(select(table).order_by(*table.primary_key.columns))
    count = 0
    async for batch in result.mappings().partitions(BATCH):
        await out.execute(table.insert(), [dict(row) for row in batch])
        count += len(batch)
    return count


async def _highest_ids(reading: AsyncConnection) -> dict[str, int]:
    """The highest id each AUTOINCREMENT table of a SQLite source ever handed out (rows
    deleted since included), or of its rows elsewhere."""
    highest: dict[str, int] = {}
    for table in (retry_jobs, audit_log):
        rows = (await reading.execute(select(func.max(table.c.id)))).scalar()
        highest[table.name] = int(rows or 0)
    if reading.dialect.name == "sqlite":
        sequences = await reading.execute(text("SELECT name, seq FROM sqlite_sequence"))
        for name, seq in sequences:
            if name in highest:
                highest[name] = max(highest[name], int(seq))
    return highest


async def _continue_sequence(out: AsyncConnection, table: Table, highest: int) -> None:
    """The next id of `table` comes after `highest`."""
    await out.execute(
        text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :value, :called)"),
        {"table": table.name, "value": max(highest, 1), "called": highest > 0},
    )
