"""Storage: migrations, the private database file, race-free status transitions, one process
per file, and transactions that survive cancellation."""

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
from services.outbox import JobKind, Outbox
from services.ratelimit import RateLimiter
from services.tasks import BackgroundTasks
from storage.db import (
    Database,
    DatabaseError,
    DatabaseInUse,
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


async def test_upsert_platform_adds_a_platform_and_updates_one(db: Database) -> None:
    """upsert_platform creates a new platform's row (posts can then use it), changes a known
    one's name and limit in place, and is idempotent."""
    async with db.transaction() as tx:
        threads = await tx.posts.upsert_platform("threads", "Threads", 500)
        renamed = await tx.posts.upsert_platform("x", "X (Twitter)", 280)
        again = await tx.posts.upsert_platform("threads", "Threads", 500)
    assert again == threads and (threads.slug, threads.char_limit) == ("threads", 500)
    assert renamed.name == "X (Twitter)"
    platforms = {p.slug: (p.name, p.char_limit) for p in await db.posts.platforms()}
    assert platforms == {
        "x": ("X (Twitter)", 280),
        "linkedin": ("LinkedIn", 3000),
        "instagram": ("Instagram", 2200),
        "threads": ("Threads", 500),
    }
    async with db.transaction() as tx:
        post, created = await tx.posts.create(
            post_id=str(uuid.uuid4()), platform="threads", status=PostStatus.GENERATING
        )
    assert created and post.platform == "threads"


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


def approval(db: Database, *approvers: str) -> ApprovalService:
    """The approval service over `db` (its worker isn't running: jobs just queue up);
    without `approvers`, everyone is one."""
    outbox = Outbox(db, max_attempts=3, base_delay=0.01, max_delay=0.1, lease=5)
    policy = ApprovalPolicy(approvers=frozenset(approvers), allow_self_approval=False)
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
        *(service.approve(post_id, Actor(user_id=f"U{i:03d}", seen_version=1)) for i in range(50))
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
            service.approve(post_id, Actor(user_id="U1", seen_version=1)),
            service.reject(post_id, Actor(user_id="U2", seen_version=1)),
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
    own = await service.approve(post_id, Actor(user_id="U0REQ", channel="C1", seen_version=1))
    done = await service.approve(post_id, Actor(user_id="U0APP", channel="C1", seen_version=1))
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


async def audit_actors(db: Database) -> list[str]:
    """Who the audit log names, oldest first (the tests below write one entry per write)."""
    return [entry.actor for entry in reversed(await db.audit.recent())]


async def write_entry(db: Database, actor: str) -> None:
    """One write transaction."""
    async with db.transaction() as tx:
        await tx.audit.record(actor=actor, action="test", post_id=None, outcome="written")


async def test_cancelled_while_begin_waits_leaves_the_writer_usable(tmp_path: Path) -> None:
    """A task cancelled while its BEGIN IMMEDIATE waits for SQLite's write lock doesn't leave
    the writer inside the transaction that BEGIN opens afterwards: later writes work."""
    db = await Database.open(tmp_path / "cancel.db")
    try:
        blocker = sqlite3.connect(tmp_path / "cancel.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # our BEGIN now waits (busy_timeout)
        task = asyncio.create_task(write_entry(db, "cancelled"))
        await asyncio.sleep(0.2)
        task.cancel()
        blocker.execute("COMMIT")  # the waiting BEGIN goes through on the connection's thread
        blocker.close()
        with pytest.raises(asyncio.CancelledError):
            await task
        await write_entry(db, "later")
        assert await audit_actors(db) == ["later"]
    finally:
        await db.close()


@pytest.mark.parametrize("steps", [0, 1, 2, 3, 5, 8, 13, 40])
async def test_cancelled_mid_transaction_rolls_back_and_leaves_the_writer_usable(
    db: Database, steps: int
) -> None:
    """A transaction cancelled after any number of event-loop steps (mid-BEGIN, between or
    inside statements, mid-COMMIT) is all or nothing, and the next write works."""

    async def write_many() -> None:
        async with db.transaction() as tx:
            for n in range(20):
                await tx.audit.record(actor=f"batch-{n}", action="t", post_id=None, outcome="o")

    task = asyncio.create_task(write_many())
    for _ in range(steps):
        await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    written = await audit_actors(db)
    assert written in ([], [f"batch-{n}" for n in range(20)])
    await write_entry(db, "later")
    assert (await audit_actors(db))[-1] == "later"


async def test_a_second_open_of_the_same_file_is_refused(tmp_path: Path) -> None:
    """While one Database has the file, opening it again fails naming the file and
    SOCIALPOST_DATABASE_URL; once it is closed, the file opens again."""
    path = tmp_path / "owned.db"
    first = await Database.open(path)
    try:
        with pytest.raises(DatabaseInUse) as refused:
            await Database.open(path)
        assert str(path.resolve()) in str(refused.value)
        assert "SOCIALPOST_DATABASE_URL" in str(refused.value)
        assert stat.S_IMODE((tmp_path / "owned.db.lock").stat().st_mode) == 0o600
    finally:
        await first.close()
    again = await Database.open(path)
    await again.close()


async def test_a_transition_at_an_old_version_changes_nothing(db: Database) -> None:
    """The conditional UPDATE pins the version: once the draft is at version 2, a claim made
    for version 1 gets nothing back, and one for version 2 moves it."""
    post_id = await pending_post(db)
    async with db.transaction() as tx:
        await tx.posts.update(post_id, message="Edited", version=2)
        stale = await tx.posts.transition(
            post_id, [PostStatus.PENDING], PostStatus.APPROVED, at_version=1
        )
        current = await tx.posts.transition(
            post_id, [PostStatus.PENDING], PostStatus.APPROVED, at_version=2
        )
    assert stale is None
    assert current is not None and current.status == PostStatus.APPROVED


async def test_an_approval_racing_an_edit_never_approves_the_unseen_text(db: Database) -> None:
    """Approvals for version 1 racing an edit to version 2: either the approval won (the
    approved text is version 1) or it is refused as stale; never version 2 approved."""
    for _ in range(10):
        post_id = await pending_post(db)
        service = approval(db)
        approved, edited = await asyncio.gather(
            service.approve(post_id, Actor(user_id="U0APP", seen_version=1)),
            service.edit(post_id, Actor(user_id="U0REQ", seen_version=1), "Unseen text"),
        )
        post = await db.posts.get(post_id)
        assert post is not None
        assert [approved.done, edited.done].count(True) == 1
        if approved.done:
            assert (post.status, post.message) == (PostStatus.APPROVED, "Hello world")
        else:
            assert approved.verdict == Verdict.STALE_VERSION
            assert (post.status, post.message) == (PostStatus.PENDING, "Unseen text")


async def failed_post_with_dead_publish(db: Database) -> tuple[str, int]:
    """A post whose publish failed for good: status failed_post, its publish job dead."""
    post_id = await pending_post(db)
    async with db.transaction() as tx:
        await tx.posts.transition(post_id, [PostStatus.PENDING], PostStatus.FAILED_POST)
        job_id = await tx.jobs.enqueue(JobKind.PUBLISH, post_id, run_at=0)
        assert job_id is not None
        await tx.jobs.bury(job_id, queue="dlq_publish", error="platform down")
    return post_id, job_id


async def test_retrying_a_dead_job_needs_an_approver_and_refusals_are_audited(
    db: Database,
) -> None:
    """A non-approver's Retry on a dead job is refused before the job is even looked up
    (an unknown id gets the same answer), and each refusal is in the audit log."""
    _, job_id = await failed_post_with_dead_publish(db)
    service = approval(db, "U0APP")
    outsider = Actor(user_id="U0OUT")
    assert (await service.retry_job(job_id, outsider)).verdict == Verdict.NOT_APPROVER
    assert (await service.retry_job(999999, outsider)).verdict == Verdict.NOT_APPROVER
    assert (await service.retry_job(999999, Actor(user_id="U0APP"))).verdict == (Verdict.NOT_FAILED)
    trail = [(e.actor, e.action, e.outcome, e.detail) for e in reversed(await db.audit.recent())]
    assert trail == [
        ("U0OUT", "retry_job", "refused:not_approver", f"job {job_id}"),
        ("U0OUT", "retry_job", "refused:not_approver", "job 999999"),
        ("U0APP", "retry_job", "refused:not_failed", "job 999999"),
    ]
    (job,) = await db.jobs.with_status(JobStatus.DEAD)
    assert job.id == job_id


async def test_retrying_the_dead_publish_of_a_discarded_post_says_so(db: Database) -> None:
    """Once the failed post was discarded, Retry on its dead publish job is refused as
    discarded and revives nothing; before that, it publishes the post again."""
    post_id, job_id = await failed_post_with_dead_publish(db)
    service = approval(db)
    approver = Actor(user_id="U0APP")
    assert (await service.discard(post_id, approver)).done
    refused = await service.retry_job(job_id, approver)
    assert refused.verdict == Verdict.DISCARDED
    assert [job.kind for job in await db.jobs.with_status(JobStatus.QUEUED)] == ["sync_card"]

    other_id, other_job = await failed_post_with_dead_publish(db)
    retried = await service.retry_job(other_job, approver)
    assert retried.done
    post = await db.posts.get(other_id)
    assert post is not None and post.status == PostStatus.APPROVED
    queued = [(j.kind, j.post_id) for j in await db.jobs.with_status(JobStatus.QUEUED)]
    assert (JobKind.PUBLISH, other_id) in queued


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
