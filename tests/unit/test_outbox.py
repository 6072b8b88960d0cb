"""The retry-table worker: backoff, dead letters, leases, and idempotent publishing."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.errors import FailureReason, TransientPublishError
from services.outbox import JobFailed, JobKind, Outbox, RetryLater, backoff_delay
from services.platforms.base import Checkpoints, PublishResult
from services.publishing import PublishJobs
from storage.db import Database, Transaction
from storage.models import Job, JobStatus, Post, PostStatus
from tests.emulators.base import wait_until


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh database."""
    database = await Database.open(tmp_path / "jobs.db")
    yield database
    await database.close()


def outbox(db: Database, *, max_attempts: int = 3, lease: float = 5) -> Outbox:
    """A worker with tiny delays."""
    return Outbox(db, max_attempts=max_attempts, base_delay=0.01, max_delay=0.05, lease=lease)


class ScriptedHandler:
    """A job handler that plays a script of outcomes, one per run."""

    def __init__(self, *script: BaseException | None) -> None:
        self.script = list(script)
        self.runs: list[Job] = []
        self.dead: list[tuple[int, str]] = []

    async def run(self, job: Job) -> None:
        self.runs.append(job)
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        self.dead.append((job.id, reason))


async def enqueue(db: Database, kind: JobKind = JobKind.NOTIFY_USER) -> int:
    """Queue one job due now."""
    async with db.transaction() as tx:
        job_id = await tx.jobs.enqueue(kind, None, run_at=time.time(), payload={"n": 1})
    assert job_id is not None
    return job_id


async def run_until(worker: Outbox, db: Database, job_id: int, status: JobStatus) -> Job:
    """Start the worker and wait until the job reaches `status`."""
    await worker.start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            job = await db.jobs.get(job_id)
            if job is not None and job.status == status:
                return job
            await asyncio.sleep(0.01)
        raise AssertionError(f"job {job_id} never reached {status}")
    finally:
        await worker.stop()


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    """Each step doubles from the base, lies between half and all of it, and is capped."""
    rng = random.Random(7)
    for attempt, step in [(1, 2), (2, 4), (3, 8), (4, 16)]:
        delays = [backoff_delay(attempt, base=2, cap=300, rng=rng) for _ in range(200)]
        assert step / 2 <= min(delays) and max(delays) <= step
        assert max(delays) - min(delays) > step / 4, "jitter spreads retries out"
    assert backoff_delay(20, base=2, cap=300, rng=rng) <= 300


async def test_transient_failures_are_retried_until_done(db: Database) -> None:
    """Two transient failures, then success: three runs, the job is done."""
    handler = ScriptedHandler(
        JobFailed("503", transient=True), JobFailed("503", transient=True), None
    )
    worker = outbox(db)
    worker.register(JobKind.NOTIFY_USER, handler)
    job_id = await enqueue(db)
    job = await run_until(worker, db, job_id, JobStatus.DONE)
    assert len(handler.runs) == 3 and job.attempts == 3
    assert handler.dead == []


async def test_exhausted_attempts_go_to_the_dead_letter_queue(db: Database) -> None:
    """After max attempts the job is dead in its queue and the handler hears the reason."""
    handler = ScriptedHandler(*[JobFailed("platform down", transient=True)] * 5)
    worker = outbox(db, max_attempts=3)
    worker.register(JobKind.NOTIFY_USER, handler)
    job_id = await enqueue(db)
    job = await run_until(worker, db, job_id, JobStatus.DEAD)
    assert (job.queue, job.attempts, job.last_error) == ("dlq_slack", 3, "platform down")
    assert handler.dead == [(job_id, "platform down")]


async def test_permanent_failure_is_dead_at_once(db: Database) -> None:
    """A failure that retrying can't fix is not retried."""
    handler = ScriptedHandler(JobFailed("duplicate", transient=False))
    worker = outbox(db, max_attempts=5)
    worker.register(JobKind.NOTIFY_USER, handler)
    job_id = await enqueue(db)
    job = await run_until(worker, db, job_id, JobStatus.DEAD)
    assert job.attempts == 1 and len(handler.runs) == 1


async def test_waiting_does_not_spend_attempts(db: Database) -> None:
    """RetryLater (an open circuit) reschedules without counting the run as an attempt."""
    handler = ScriptedHandler(*[RetryLater(time.time(), "cooling down")] * 4, None)
    worker = outbox(db, max_attempts=2)
    worker.register(JobKind.NOTIFY_USER, handler)
    job_id = await enqueue(db)
    job = await run_until(worker, db, job_id, JobStatus.DONE)
    assert len(handler.runs) == 5 and job.attempts == 1


async def test_a_crashing_handler_is_retried_not_lost(db: Database) -> None:
    """An unexpected exception in a handler counts as a transient failure."""
    handler = ScriptedHandler(KeyError("bug"), None)
    worker = outbox(db)
    worker.register(JobKind.NOTIFY_USER, handler)
    job_id = await enqueue(db)
    await run_until(worker, db, job_id, JobStatus.DONE)
    assert len(handler.runs) == 2


async def test_jobs_left_running_by_a_dead_process_run_again(db: Database) -> None:
    """A job leased by a process that died is due again when the next one starts."""
    job_id = await enqueue(db)
    async with db.transaction() as tx:
        claimed = await tx.jobs.claim_due(time.time(), time.time() + 3600, 10)
    assert [job.id for job in claimed] == [job_id]
    handler = ScriptedHandler(None)
    worker = outbox(db)
    worker.register(JobKind.NOTIFY_USER, handler)
    job = await run_until(worker, db, job_id, JobStatus.DONE)
    assert job.attempts == 2 and len(handler.runs) == 1


async def test_an_expired_lease_is_claimed_again(db: Database) -> None:
    """A running job whose lease ran out is claimable; one with a live lease is not."""
    job_id = await enqueue(db)
    now = time.time()
    async with db.transaction() as tx:
        assert len(await tx.jobs.claim_due(now, now + 0.05, 10)) == 1
        assert await tx.jobs.claim_due(now, now + 10, 10) == []
    await asyncio.sleep(0.1)
    async with db.transaction() as tx:
        again = await tx.jobs.claim_due(time.time(), time.time() + 10, 10)
    assert [job.id for job in again] == [job_id]


async def test_card_jobs_of_one_post_coalesce_and_never_overlap(db: Database) -> None:
    """Queued card updates of a post merge into one, and none starts while one runs."""
    post_id = await stored_post(db, PostStatus.PENDING)
    async with db.transaction() as tx:
        first = await tx.jobs.enqueue(JobKind.SYNC_CARD, post_id, run_at=0, coalesce=True)
        merged = await tx.jobs.enqueue(JobKind.SYNC_CARD, post_id, run_at=0, coalesce=True)
        assert first is not None and merged is None
        (running,) = await tx.jobs.claim_due(time.time(), time.time() + 10, 10)
        second = await tx.jobs.enqueue(JobKind.SYNC_CARD, post_id, run_at=0, coalesce=True)
        assert second is not None
        assert await tx.jobs.claim_due(time.time(), time.time() + 10, 10) == []
        await tx.jobs.complete(running.id)
        assert [job.id for job in await tx.jobs.claim_due(time.time(), 1e12, 10)] == [second]


async def stored_post(db: Database, status: PostStatus, **fields: object) -> str:
    """Store an X post in `status` and return its id."""
    post_id = str(uuid.uuid4())
    async with db.transaction() as tx:
        await tx.posts.create(
            post_id=post_id,
            platform="x",
            status=status,
            message="Hello",
            requester="U1",
            **fields,
        )
    return post_id


class CountingPublisher:
    """A publisher that counts calls and fails while `failing` is set."""

    platform = "x"
    dry_run = False

    def __init__(self) -> None:
        self.calls = 0
        self.failing = False

    async def publish(self, post: Post, checkpoints: Checkpoints) -> PublishResult:
        self.calls += 1
        if self.failing:
            raise TransientPublishError(FailureReason.PLATFORM_DOWN, "X answered 503")
        return PublishResult(external_id=f"tweet-{self.calls}", url="https://x.com/i/web/status/1")

    async def aclose(self) -> None:
        pass


async def test_a_post_with_an_external_id_is_never_published_again(db: Database) -> None:
    """If the platform's id is already stored, the publish job only finishes the post."""
    post_id = await stored_post(db, PostStatus.APPROVED, external_id="tweet-0")
    publisher = CountingPublisher()
    jobs = PublishJobs(db, outbox(db), {"x": publisher}, cooldown=1)
    await jobs.run(job_for(post_id))
    post = await db.posts.get(post_id)
    assert publisher.calls == 0
    assert post is not None and (post.status, post.external_id) == ("posted", "tweet-0")


async def test_a_publish_for_a_post_no_longer_approved_does_nothing(db: Database) -> None:
    """A discarded or already posted post is not published by a stale job."""
    post_id = await stored_post(db, PostStatus.REJECTED)
    publisher = CountingPublisher()
    await PublishJobs(db, outbox(db), {"x": publisher}, cooldown=1).run(job_for(post_id))
    assert publisher.calls == 0


async def test_a_failing_platform_makes_jobs_wait_instead_of_hammering_it(db: Database) -> None:
    """After 3 failures in a row the platform's circuit opens: jobs wait for the cool-down
    (without spending attempts) and then send one trial."""
    publisher = CountingPublisher()
    publisher.failing = True
    jobs = PublishJobs(db, outbox(db), {"x": publisher}, cooldown=0.3)
    post_id = await stored_post(db, PostStatus.APPROVED)
    for _ in range(3):
        with pytest.raises(JobFailed):
            await jobs.run(job_for(post_id))
    with pytest.raises(RetryLater) as waiting:
        await jobs.run(job_for(post_id))
    assert publisher.calls == 3
    assert 0 < waiting.value.run_at - time.time() <= 0.31
    publisher.failing = False
    await asyncio.sleep(0.35)
    await jobs.run(job_for(post_id))
    assert publisher.calls == 4


def job_for(post_id: str) -> Job:
    """A publish job as the worker would hand it over."""
    return Job(
        id=1,
        kind=JobKind.PUBLISH,
        post_id=post_id,
        payload={},
        attempts=1,
        next_attempt_at=0,
        status=JobStatus.RUNNING,
        created_at="now",
        updated_at="now",
    )


async def test_publish_waits_for_the_first_try_of_its_card_update(db: Database) -> None:
    """A publish queued after a card update waits until that update has been tried once (the
    card says "Publishing..." first), but not for the update's retries."""
    post_id = await stored_post(db, PostStatus.APPROVED)
    rule = (JobKind.PUBLISH, JobKind.SYNC_CARD)
    async with db.transaction() as tx:
        card = await tx.jobs.enqueue(JobKind.SYNC_CARD, post_id, run_at=0, coalesce=True)
        publish = await tx.jobs.enqueue(JobKind.PUBLISH, post_id, run_at=0)
        claimed = await tx.jobs.claim_due(time.time(), 1e12, 10, after_first_try=rule)
        assert [job.id for job in claimed] == [card]
        assert await tx.jobs.claim_due(time.time(), 1e12, 10, after_first_try=rule) == []
        assert card is not None
        await tx.jobs.reschedule(card, run_at=time.time() + 60, error="Slack down")
        claimed = await tx.jobs.claim_due(time.time(), 1e12, 10, after_first_try=rule)
        assert [job.id for job in claimed] == [publish]


class CountingDatabase(Database):
    """A database that counts its write transactions."""

    transactions = 0

    @contextlib.asynccontextmanager
    async def transaction(self, *, urgent: bool = False) -> AsyncIterator[Transaction]:
        """Count, then the real transaction."""
        self.transactions += 1
        async with super().transaction(urgent=urgent) as tx:
            yield tx


class BlockingHandler:
    """A job handler whose first run waits for `release`."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.runs: list[int] = []

    async def run(self, job: Job) -> None:
        self.runs.append(job.id)
        if len(self.runs) == 1:
            await self.release.wait()

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        raise AssertionError("no job dies here")


async def test_a_held_back_job_is_not_polled_for_with_writes(tmp_path: Path) -> None:
    """While a due card update waits for the one running for its post, the worker opens no
    write transactions for it; the running one's end starts it at once."""
    db = await CountingDatabase.open(tmp_path / "held.db")
    try:
        post_id = await stored_post(db, PostStatus.PENDING)
        handler = BlockingHandler()
        worker = outbox(db, lease=30)
        worker.register(JobKind.SYNC_CARD, handler)
        async with db.transaction() as tx:
            first = await tx.jobs.enqueue(JobKind.SYNC_CARD, post_id, run_at=time.time())
        await worker.start()
        try:
            await wait_until(lambda: handler.runs == [first])
            async with db.transaction() as tx:
                second = await tx.jobs.enqueue(JobKind.SYNC_CARD, post_id, run_at=time.time())
            worker.wake()
            await asyncio.sleep(0.1)
            before = db.transactions
            await asyncio.sleep(0.5)
            assert db.transactions - before <= 1, "polled with write transactions"
            handler.release.set()
            await wait_until(lambda: handler.runs == [first, second])
        finally:
            await worker.stop()
    finally:
        await db.close()
