"""What only the SQLite backend has: the file's lock, its mode and journal, the schema as
migrated, the upgrade of databases from before Alembic, writers taking turns, and BEGIN
IMMEDIATE cut off by a cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage import (
    SchemaTooNew,
    StoreLocked,
    background_work,
    migrations,
    open_store,
    sqlite_url,
)
from storage.models import JobStatus, NewJob, PostStatus
from storage.schema import metadata
from storage.sqlite import ALEMBIC_USER_VERSION, legacy
from storage.sqlite.driver import OneTripConnection
from tests.storage.support import new_post, transaction_held


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """Where the database goes."""
    return tmp_path.resolve() / "data" / "socialpost.db"


@contextlib.contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection to the file (autocommit)."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


def schema_differences(path: Path) -> list[Any]:
    """How the database's schema differs from `storage.schema` (empty when it matches)."""
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


async def test_a_fresh_database_is_private_in_wal_mode_and_at_the_newest_schema(
    path: Path,
) -> None:
    """A new database file (and its lock) is created 0600, in WAL mode, at Alembic's head,
    with a user_version that older socialposts refuse, and its schema is `storage.schema`."""
    store = await open_store(sqlite_url(path))
    try:
        await new_post(store)
        for name in ("socialpost.db", "socialpost.db.lock", "socialpost.db-wal"):
            assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600, name
        with raw(path) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert connection.execute("PRAGMA user_version").fetchone() == (ALEMBIC_USER_VERSION,)
            revision = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        assert revision == [(migrations.head(),)]
        assert schema_differences(path) == []
    finally:
        await store.close()


async def test_a_second_store_on_the_same_file_is_refused_until_the_first_closes(
    path: Path,
) -> None:
    """While a store has the file, another (in this or any process) gets `StoreLocked`, with
    a message naming the file and pointing to PostgreSQL; once it is closed, the file opens."""
    first = await open_store(sqlite_url(path))
    try:
        with pytest.raises(StoreLocked) as refused:
            await open_store(sqlite_url(path))
        assert str(refused.value) == (
            "another socialpost process is using the SQLite database"
            f" {path}. A SQLite file belongs to one process; to run several"
            " processes, share a PostgreSQL database (SOCIALPOST_DATABASE_URL)."
        )
    finally:
        await first.close()
    second = await open_store(sqlite_url(path))
    await second.ping()
    await second.close()


async def test_a_database_from_a_newer_socialpost_is_refused(path: Path) -> None:
    """A user_version past the legacy history, or an Alembic revision this version doesn't
    know, is refused untouched."""
    path.parent.mkdir(parents=True)
    with raw(path) as connection:
        connection.execute("PRAGMA user_version = 5")
    with pytest.raises(SchemaTooNew, match="newer"):
        await open_store(sqlite_url(path))
    os.unlink(path)
    store = await open_store(sqlite_url(path))
    await store.close()
    with raw(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'from-the-future'")
    with pytest.raises(SchemaTooNew, match="from-the-future"):
        await open_store(sqlite_url(path))
    with raw(path) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
            ("from-the-future",)
        ]


def build_legacy(path: Path, version: int, rows: dict[int, str]) -> None:
    """A database as socialpost wrote it at PRAGMA user_version `version`, with the rows of
    `rows[n]` written while it was at version n."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with raw(path) as connection:
        for number, sql in legacy.scripts():
            if number <= version:
                connection.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
                connection.executescript(f"BEGIN;\n{rows.get(number, '')}\nCOMMIT;")
        assert connection.execute("PRAGMA user_version").fetchone() == (version,)


X = "7f0c6f1e-52d4-4c1e-9a51-0c6b4f1d0001"
LINKEDIN = "7f0c6f1e-52d4-4c1e-9a51-0c6b4f1d0002"

V1_ROWS = f"""
INSERT INTO posts (id, message, status, social_platform_id, external_id, approved_at,
    approved_by, llm_provider, llm_model, prompt, raw_output, created_at, updated_at)
VALUES ('old-post', 'Kept text', 'posted', '{LINKEDIN}', 'urn:li:share:1',
    '2025-01-01T10:00:00.250Z', 'U0APP', 'openai', 'gpt-4o-mini', 'the prompt', 'raw',
    '2025-01-01T09:00:00Z', '2025-01-01T10:00:01.5Z');
"""

V3_ROWS = f"""
INSERT INTO posts (id, message, status, social_platform_id, requester, brief, channel,
    message_ts, version, request_key, llm_fallback, dry_run, thread, created_at, updated_at)
VALUES ('pending-post', 'Draft two', 'approved', '{X}', 'U0REQ', 'a brief', 'C1', '1.5', 2,
    'V123:x', 1, 0, 1, '2025-06-01T08:00:00.000Z', '2025-06-01T08:05:00.123Z');
INSERT INTO post_versions (post_id, version, message, source, author, created_at) VALUES
    ('pending-post', 1, 'Draft one', 'generated', NULL, '2025-06-01T08:01:00.000Z'),
    ('pending-post', 2, 'Draft two', 'edited', 'U0ED', '2025-06-01T08:02:00.000Z');
INSERT INTO publish_steps (post_id, step, external_id, created_at)
    VALUES ('pending-post', 'part:1', 'tweet-1', '2025-06-01T08:06:00.000Z');
INSERT INTO retry_jobs (id, kind, post_id, payload, attempts, next_attempt_at, lease_until,
    status, created_at, updated_at) VALUES
    (10, 'sync_card', 'pending-post', '{{}}', 0, 1748764800.5, NULL, 'queued',
        '2025-06-01T08:00:00.000Z', '2025-06-01T08:00:00.000Z'),
    (11, 'sync_card', 'pending-post', '{{}}', 2, 1748764700.25, NULL, 'queued',
        '2025-06-01T08:00:00.000Z', '2025-06-01T08:00:00.000Z'),
    (12, 'publish', 'pending-post', '{{}}', 0, 1748764800.0, NULL, 'queued',
        '2025-06-01T08:00:00.000Z', '2025-06-01T08:00:00.000Z'),
    (13, 'notify_user', 'pending-post', '{{"user": "U0REQ", "notice": "n"}}', 1, 1.0, 99.5,
        'running', '2025-06-01T08:00:00.000Z', '2025-06-01T08:00:00.000Z'),
    (50, 'notify_user', NULL, '{{}}', 1, 2.0, NULL, 'done',
        '2025-06-01T08:00:00.000Z', '2025-06-01T08:00:00.000Z');
DELETE FROM retry_jobs WHERE id = 50;
INSERT INTO audit_log (at, actor, action, post_id, outcome, channel, message_ts, detail)
    VALUES ('2025-06-01T08:07:00.999Z', 'U0APP', 'approve', 'pending-post', 'approved',
        'C1', '1.5', NULL);
"""

V4_ROWS = f"""
INSERT INTO posts (id, message, status, social_platform_id, llm_deployment, version,
    request_key, created_at, updated_at)
VALUES ('v4-post', 'Four', 'pending', '{X}', 'openai/gpt-4o-mini', 1, 'V9:x',
    '2025-07-01T00:00:00.000Z', '2025-07-01T00:00:00.000Z');
UPDATE retry_jobs SET lease = 123.0 WHERE id = 13;
"""


def utc(*parts: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize("version", [1, 3, 4])
async def test_a_legacy_database_is_upgraded_in_place_with_its_rows(
    path: Path, version: int
) -> None:
    """A database at user_version 1, 3 or 4 with rows in every table is upgraded in place:
    every row is kept, ISO and epoch times become the same UTC instants, the old one-job-
    per-(kind, post) rules become keys and waits, ids are never reused, and the schema is
    exactly today's."""
    build_legacy(path, version, {1: V1_ROWS, 3: V3_ROWS, 4: V4_ROWS})
    store = await open_store(sqlite_url(path))
    try:
        old = await store.posts.get("old-post")
        assert old is not None
        assert (old.message, old.status, old.platform, old.external_id, old.version) == (
            "Kept text",
            PostStatus.POSTED,
            "linkedin",
            "urn:li:share:1",
            1,
        )
        assert (old.llm_provider, old.llm_model, old.prompt, old.raw_output) == (
            "openai",
            "gpt-4o-mini",
            "the prompt",
            "raw",
        )
        assert old.approved_at == utc(2025, 1, 1, 10, 0, 0, 250000)
        assert old.created_at == utc(2025, 1, 1, 9, 0, 0)
        assert old.updated_at == utc(2025, 1, 1, 10, 0, 1, 500000)
        assert old.request_id is None and old.request_key is None
        platforms = {p.slug: (p.id, p.char_limit) for p in await store.posts.platforms()}
        assert platforms == {
            "x": (X, 280),
            "linkedin": (LINKEDIN, 3000),
            "instagram": ("7f0c6f1e-52d4-4c1e-9a51-0c6b4f1d0003", 2200),
        }
        if version >= 3:
            await _check_v3_rows(store)
        if version >= 4:
            v4 = await store.posts.get("v4-post")
            assert v4 is not None and v4.llm_deployment == "openai/gpt-4o-mini"
            assert [p.id for p in await store.posts.for_request("V9")] == ["v4-post"]
            running = await store.jobs.get(13)
            assert running is not None and running.lease == utc(1970, 1, 1, 0, 2, 3)
    finally:
        await store.close()
    with raw(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (ALEMBIC_USER_VERSION,)
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert not {name for name in tables if name.startswith("legacy_")}
    assert schema_differences(path) == []


async def _check_v3_rows(store: Any) -> None:
    post = await store.posts.get("pending-post")
    assert post is not None
    assert (post.status, post.requester, post.channel, post.message_ts, post.version) == (
        PostStatus.APPROVED,
        "U0REQ",
        "C1",
        "1.5",
        2,
    )
    assert (post.llm_fallback, post.dry_run, post.thread) == (True, False, True)
    assert (post.request_id, post.request_key) == ("V123", "V123:x")
    assert post.updated_at == utc(2025, 6, 1, 8, 5, 0, 123000)
    assert [p.id for p in await store.posts.for_request("V123")] == ["pending-post"]
    versions = await store.posts.versions("pending-post")
    assert [(v.version, v.message, v.source, v.author) for v in versions] == [
        (1, "Draft one", "generated", None),
        (2, "Draft two", "edited", "U0ED"),
    ]
    assert versions[1].created_at == utc(2025, 6, 1, 8, 2)
    assert await store.posts.publish_steps("pending-post") == {"part:1": "tweet-1"}
    jobs = {job.id: job for job in await store.jobs.for_post("pending-post")}
    # Two queued card updates of one post became one, due at the earlier time.
    assert sorted(jobs) == [10, 12, 13]
    card, publish, notice = jobs[10], jobs[12], jobs[13]
    assert (card.key, card.status, card.attempts) == (
        "sync_card:pending-post",
        JobStatus.QUEUED,
        0,
    )
    assert card.next_attempt_at == utc(2025, 6, 1, 7, 58, 20, 250000)
    assert (publish.key, publish.after_job_id) == ("publish:pending-post", 10)
    assert publish.next_attempt_at == utc(2025, 6, 1, 8, 0, 0)
    assert (notice.key, notice.status, notice.payload) == (
        None,
        JobStatus.RUNNING,
        {"user": "U0REQ", "notice": "n"},
    )
    assert notice.next_attempt_at == utc(1970, 1, 1, 0, 0, 1)
    (entry,) = await store.audit.for_post("pending-post")
    assert (entry.actor, entry.action, entry.outcome, entry.channel) == (
        "U0APP",
        "approve",
        "approved",
        "C1",
    )
    assert entry.at == utc(2025, 6, 1, 8, 7, 0, 999000)
    async with store.transaction() as tx:
        new_id = await tx.jobs.enqueue(NewJob(kind="notify_user", run_at=utc(2026, 1, 1)))
    assert new_id > 50, "ids of deleted jobs are never handed out again"


async def test_a_failed_upgrade_leaves_the_legacy_database_as_it_was(path: Path) -> None:
    """An upgrade that fails half-way (here: a time it can't read) changes nothing."""
    build_legacy(
        path,
        4,
        {
            4: "INSERT INTO audit_log (at, actor, action, post_id, outcome)"
            " VALUES ('not a time', 'U1', 'approve', NULL, 'approved');"
        },
    )
    with pytest.raises(ValueError, match="not a time"):
        await open_store(sqlite_url(path))
    with raw(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (4,)
        assert connection.execute("SELECT actor FROM audit_log").fetchall() == [("U1",)]
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert "alembic_version" not in tables and "legacy_posts" not in tables
    path.with_name(path.name + ".lock").unlink()


async def test_interactive_and_background_writers_take_turns_interactive_first(
    path: Path,
) -> None:
    """While the writer is busy, a waiting interactive transaction gets it before a waiting
    background one (`background_work()`), but then a background one has its turn: a stream
    of requests can't starve the jobs worker. First come first served within each class."""
    store = await open_store(sqlite_url(path))
    order: list[str] = []
    try:

        async def write(name: str, background: bool) -> None:
            with background_work() if background else contextlib.nullcontext():
                async with store.transaction() as tx:
                    await tx.audit.record(actor=name, action="a", post_id=None, outcome="ok")
                    order.append(name)

        writers = []
        async with transaction_held(store):
            for name, background in [
                ("bg-1", True),
                ("fg-1", False),
                ("bg-2", True),
                ("fg-2", False),
            ]:
                writers.append(asyncio.create_task(write(name, background)))
                await asyncio.sleep(0.01)
        await asyncio.gather(*writers)
    finally:
        await store.close()
    assert order == ["fg-1", "bg-1", "fg-2", "bg-2"]


async def test_a_cancellation_during_begin_immediate_leaves_the_writer_usable(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction cancelled while its BEGIN IMMEDIATE waits for the write lock (held here
    by another connection) doesn't wedge the writer: later transactions work (issue 10)."""
    store = await open_store(sqlite_url(path))
    try:
        post = await new_post(store)
        begun = asyncio.Event()
        begin = OneTripConnection.begin_immediate

        async def watched(self: OneTripConnection) -> None:
            begun.set()
            await begin(self)

        monkeypatch.setattr(OneTripConnection, "begin_immediate", watched)
        with raw(path) as blocker:
            blocker.execute("BEGIN IMMEDIATE")

            async def write() -> None:
                async with store.transaction() as tx:
                    await tx.posts.update(post.id, tone="cancelled")

            work = asyncio.create_task(write())
            await begun.wait()
            # Let the statement reach SQLite, where it waits for the blocker's lock.
            await asyncio.sleep(0.2)
            work.cancel()
            await asyncio.sleep(0.05)
            blocker.execute("ROLLBACK")
            with pytest.raises(asyncio.CancelledError):
                await work
        for n in range(3):
            async with store.transaction() as tx:
                await tx.posts.update(post.id, tone=f"after-{n}")
        stored = await store.posts.get(post.id)
        assert stored is not None and stored.tone == "after-2"
    finally:
        await store.close()
