"""Storage: migrations, the private database file, and race-free status transitions."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest

from services.approval import Actor, ApprovalPolicy, ApprovalService, Verdict
from services.drafting import Drafter, DraftingService
from services.llm import LLMClient
from services.models import Deployment
from services.outbox import Outbox
from services.ratelimit import RateLimiter
from services.tasks import BackgroundTasks
from storage.db import (
    Database,
    DatabaseError,
    PriorityLock,
    migrate,
    migrations,
    schema_version,
)
from storage.models import JobStatus, PostStatus

LATEST = migrations()[-1][0]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh database file."""
    database = await Database.open(tmp_path / "socialpost.db")
    yield database
    await database.close()


async def pending_post(db: Database, requester: str = "U0REQ") -> str:
    """Store a pending X post and return its id."""
    post_id = str(uuid.uuid4())
    async with db.transaction() as tx:
        await tx.posts.create(
            post_id=post_id,
            platform="x",
            status=PostStatus.PENDING,
            request_key=f"V{post_id}:x",
            message="Hello world",
            requester=requester,
            brief="say hello",
        )
    return post_id


async def test_fresh_database_has_the_schema_and_the_platforms(db: Database) -> None:
    """A new database is at the latest schema, WAL mode, with the three platforms seeded."""
    platforms = {p.slug: p.char_limit for p in await db.posts.platforms()}
    assert platforms == {"x": 280, "linkedin": 3000, "instagram": 2200}
    async with aiosqlite.connect(db.path) as raw:
        assert await schema_version(raw) == LATEST
        async with raw.execute("PRAGMA journal_mode") as cursor:
            assert (await cursor.fetchone())[0] == "wal"
        async with raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cursor:
            tables = {row[0] for row in await cursor.fetchall()}
    assert {"social_platforms", "posts", "retry_jobs", "audit_log", "post_versions"} <= tables


async def test_database_file_is_private(db: Database) -> None:
    """The database file is created readable and writable by its owner only (0600)."""
    assert stat.S_IMODE(db.path.stat().st_mode) == 0o600


async def test_upgrade_from_schema_1_keeps_rows(tmp_path: Path) -> None:
    """A database at schema version 1 is upgraded in place; its posts survive intact."""
    path = tmp_path / "old.db"
    async with aiosqlite.connect(path, isolation_level=None) as raw:
        await migrate(raw, target=1)
        assert await schema_version(raw) == 1
        await raw.execute(
            "INSERT INTO posts (id, message, status, social_platform_id, llm_provider,"
            " created_at, updated_at) SELECT 'old-post', 'Kept text', 'posted', id, 'openai',"
            " '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z' FROM social_platforms"
            " WHERE slug = 'linkedin'"
        )
    database = await Database.open(path)
    try:
        post = await database.posts.get("old-post")
        assert post is not None
        assert (post.message, post.status, post.platform) == ("Kept text", "posted", "linkedin")
        assert post.llm_provider == "openai"
        assert post.version == 1 and post.request_key is None
        assert len(await database.posts.platforms()) == 3
    finally:
        await database.close()
    async with aiosqlite.connect(path) as raw:
        assert await schema_version(raw) == LATEST


async def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    """A database from a newer socialpost is not touched."""
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {LATEST + 1}")
    with pytest.raises(DatabaseError, match="newer"):
        await Database.open(path)


async def test_failed_transaction_rolls_back(db: Database) -> None:
    """An error inside a transaction leaves no trace of its writes."""
    post_id = await pending_post(db)
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.posts.transition(post_id, [PostStatus.PENDING], PostStatus.REJECTED)
            raise RuntimeError("boom")
    post = await db.posts.get(post_id)
    assert post is not None and post.status == PostStatus.PENDING


async def test_request_key_deduplicates(db: Database) -> None:
    """Creating a post twice with one request key returns the first post."""
    first, created = await db_create(db, "V1:x")
    again, created_again = await db_create(db, "V1:x")
    assert created and not created_again
    assert again.id == first.id


async def db_create(db: Database, key: str) -> tuple[object, bool]:
    async with db.transaction() as tx:
        return await tx.posts.create(
            post_id=str(uuid.uuid4()), platform="x", status=PostStatus.GENERATING, request_key=key
        )


def approval(db: Database) -> ApprovalService:
    """The approval service over `db` (its worker isn't running: jobs just queue up)."""
    outbox = Outbox(db, max_attempts=3, base_delay=0.01, max_delay=0.1, lease=5)
    policy = ApprovalPolicy(approvers=frozenset(), allow_self_approval=False)
    llm = LLMClient([Deployment(name="unused", model="openai/unused")], timeout=1, cooldown=1)
    drafting = DraftingService(db, Drafter(llm, brand_voice=None), outbox, BackgroundTasks())
    limiter = RateLimiter(
        user_capacity=5, user_per_seconds=60, workspace_capacity=100, workspace_per_seconds=60
    )
    return ApprovalService(db, outbox, policy, drafting, limiter)


async def test_fifty_concurrent_approvals_have_one_winner(db: Database) -> None:
    """50 approve claims racing on one pending post: exactly one wins, one publish is queued."""
    post_id = await pending_post(db)
    service = approval(db)
    outcomes = await asyncio.gather(
        *(service.approve(post_id, Actor(user_id=f"U{i:03d}")) for i in range(50))
    )
    verdicts = [o.verdict for o in outcomes]
    assert verdicts.count(Verdict.DONE) == 1
    assert verdicts.count(Verdict.ALREADY_APPROVED) == 49
    jobs = await db.jobs.for_post(post_id)
    assert [job.kind for job in jobs].count("publish") == 1
    post = await db.posts.get(post_id)
    assert post is not None and post.status == PostStatus.APPROVED


async def test_approve_and_reject_race_has_one_winner(db: Database) -> None:
    """Approve and reject racing on one post: exactly one of them happens."""
    for _ in range(10):
        post_id = await pending_post(db)
        service = approval(db)
        approved, rejected = await asyncio.gather(
            service.approve(post_id, Actor(user_id="U1")),
            service.reject(post_id, Actor(user_id="U2")),
        )
        assert [approved.done, rejected.done].count(True) == 1
        post = await db.posts.get(post_id)
        assert post is not None
        if approved.done:
            assert post.status == PostStatus.APPROVED
            assert rejected.verdict == Verdict.ALREADY_APPROVED
        else:
            assert post.status == PostStatus.REJECTED
            assert approved.verdict == Verdict.ALREADY_REJECTED


async def test_storage_transitions_race_directly(db: Database) -> None:
    """Raw conditional UPDATEs from 50 tasks: exactly one moves the post."""
    post_id = await pending_post(db)

    async def claim() -> bool:
        async with db.transaction() as tx:
            moved = await tx.posts.transition(post_id, [PostStatus.PENDING], PostStatus.APPROVED)
        return moved is not None

    results = await asyncio.gather(*(claim() for _ in range(50)))
    assert results.count(True) == 1


async def test_every_decision_and_refusal_is_audited(db: Database) -> None:
    """The audit log has who did or tried what to which post, from which card."""
    post_id = await pending_post(db, requester="U0REQ")
    service = approval(db)
    own = await service.approve(post_id, Actor(user_id="U0REQ", channel="C1", message_ts=None))
    done = await service.approve(post_id, Actor(user_id="U0APP", channel="C1", message_ts=None))
    assert (own.verdict, done.verdict) == (Verdict.OWN_POST, Verdict.DONE)
    trail = await db.audit.for_post(post_id)
    assert [(e.actor, e.action, e.outcome) for e in trail] == [
        ("U0REQ", "approve", "refused:own_post"),
        ("U0APP", "approve", "approved"),
    ]
    assert trail[1].channel == "C1"


async def test_reads_under_concurrent_load_see_the_latest_commit(db: Database) -> None:
    """Many tasks reading all the time never pin an old snapshot: a read that starts after a
    commit sees it (the publish job relies on this to see its post approved)."""
    post_id = await pending_post(db)
    stop = asyncio.Event()

    async def keep_reading() -> None:
        while not stop.is_set():
            await db.posts.get(post_id)
            await db.jobs.next_due_at()

    readers = [asyncio.create_task(keep_reading()) for _ in range(30)]
    await asyncio.sleep(0.05)
    stale = 0
    for _ in range(20):
        async with db.transaction() as tx:
            await tx.posts.transition(post_id, [PostStatus.PENDING], PostStatus.APPROVED)
        post = await db.posts.get(post_id)
        stale += post is None or post.status != PostStatus.APPROVED
        async with db.transaction() as tx:
            await tx.posts.transition(post_id, [PostStatus.APPROVED], PostStatus.PENDING)
    stop.set()
    await asyncio.gather(*readers)
    assert stale == 0


async def test_urgent_writes_go_before_background_writes() -> None:
    """The write lock hands itself to urgent waiters first, FIFO within each class, and
    passes it on when a waiter is cancelled."""
    lock = PriorityLock()
    order: list[str] = []

    async def take(name: str, urgent: bool) -> None:
        await lock.acquire(urgent=urgent)
        order.append(name)
        await asyncio.sleep(0)
        lock.release()

    await lock.acquire(urgent=False)
    tasks = [
        asyncio.create_task(take("background-1", False)),
        asyncio.create_task(take("background-2", False)),
        asyncio.create_task(take("cancelled", True)),
        asyncio.create_task(take("urgent-1", True)),
        asyncio.create_task(take("urgent-2", True)),
    ]
    await asyncio.sleep(0)
    tasks[2].cancel()
    await asyncio.sleep(0)
    lock.release()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == ["urgent-1", "urgent-2", "background-1", "background-2"]
    await lock.acquire(urgent=False)
    lock.release()


async def test_upgrade_from_schema_3_keeps_queued_jobs_and_their_lease(tmp_path: Path) -> None:
    """A retry table written before the `lease` rename (schema 3) keeps its jobs and leases."""
    path = tmp_path / "v3.db"
    async with aiosqlite.connect(path, isolation_level=None) as raw:
        await migrate(raw, target=3)
        await raw.execute(
            "INSERT INTO retry_jobs (kind, payload, next_attempt_at, lease_until, status,"
            " created_at, updated_at) VALUES ('notify_user', '{}', 1.0, 99.5, 'running', 'x', 'x')"
        )
    database = await Database.open(path)
    try:
        (job,) = await database.jobs.with_status(JobStatus.RUNNING)
        assert (job.kind, job.lease) == ("notify_user", 99.5)
    finally:
        await database.close()


async def test_jobs_are_counted_by_status_leaving_out_given_posts(db: Database) -> None:
    """`jobs.count` counts the jobs in a status, without those of the posts left out (App Home
    lists a failed post's dead jobs through the post)."""
    first, second = await pending_post(db), await pending_post(db)
    async with db.transaction() as tx:
        for post_id in (first, second, None, first):
            job_id = await tx.jobs.enqueue("publish", post_id, run_at=0)
            assert job_id is not None
            await tx.jobs.bury(job_id, queue="dlq_publish", error="gone")
        await tx.jobs.enqueue("sync_card", second, run_at=0)
    assert await db.jobs.count(JobStatus.DEAD) == 4
    assert await db.jobs.count(JobStatus.DEAD, except_posts={first}) == 2
    assert await db.jobs.count(JobStatus.QUEUED, except_posts={first}) == 1
