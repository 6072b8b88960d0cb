"""The jobs worker: backoff, dead letters, leases, and idempotent publishing."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers.slack_out.cards import NOTIFY_USER, SYNC_CARD, CardJobs, queue_card
from services.cards import Cards
from services.clock import SystemClock
from services.errors import FailureReason, TransientPublishError
from services.events import PostChanged
from services.jobs import (
    JobFailed,
    JobHandler,
    JobQueue,
    JobType,
    RetryLater,
    RetryPolicy,
    Worker,
    backoff_delay,
    finish_job,
)
from services.platforms.base import Checkpoints, PublishResult
from services.platforms.publish import PUBLISH, Publishing
from storage import Store, Transaction, open_store, sqlite_url
from storage.interfaces import AuditReads, JobReads, PostReads
from storage.models import Job, JobStatus, NewJob, NewPost, Post, PostStatus
from storage.sql.jobs import SqlJobs
from tests.support.domain import domain_of
from tests.support.emulators.base import wait_until


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh database."""
    store = await open_store(sqlite_url(tmp_path / "jobs.db"))
    yield store
    await store.close()


def worker_for(db: Store, *, max_attempts: int = 3, lease: float = 5) -> Worker:
    """A worker with tiny delays."""
    retry = RetryPolicy(max_attempts=max_attempts, base_delay=0.01, max_delay=0.05)
    return Worker(db, JobQueue(db), retry=retry, lease=lease)


def register(worker: Worker, kind: str, handler: JobHandler) -> None:
    """Run `kind`'s jobs with `handler` (dead ones go to dlq_slack)."""
    worker.register(JobType(name=kind, handler=handler, dead_letter="dlq_slack", label=kind))


def publishing(db: Store, publisher: CountingPublisher, cooldown: float = 1) -> Publishing:
    """The publish jobs over `db`, publishing to X with `publisher`."""
    return Publishing(db, domain_of(db).lifecycle, {"x": publisher}, cooldown=cooldown)


async def enqueue_card(db: Store, tx: Transaction, post_id: str) -> int:
    """Queue the post's card update, as a change of it does."""
    return await queue_card(JobQueue(db), tx, PostChanged(post_id))


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


async def enqueue(db: Store, kind: str = NOTIFY_USER) -> int:
    """Queue one job due now."""
    async with db.transaction() as tx:
        return await tx.jobs.enqueue(NewJob(kind=kind, run_at=datetime.now(UTC), payload={"n": 1}))


async def run_until(worker: Worker, db: Store, job_id: int, status: JobStatus) -> Job:
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


async def test_transient_failures_are_retried_until_done(db: Store) -> None:
    """Two transient failures, then success: three runs, the job is done."""
    handler = ScriptedHandler(
        JobFailed("503", transient=True), JobFailed("503", transient=True), None
    )
    worker = worker_for(db)
    register(worker, NOTIFY_USER, handler)
    job_id = await enqueue(db)
    job = await run_until(worker, db, job_id, JobStatus.DONE)
    assert len(handler.runs) == 3 and job.attempts == 3
    assert handler.dead == []


async def test_exhausted_attempts_go_to_the_dead_letter_queue(db: Store) -> None:
    """After max attempts the job is dead in its queue and the handler hears the reason."""
    handler = ScriptedHandler(*[JobFailed("platform down", transient=True)] * 5)
    worker = worker_for(db, max_attempts=3)
    register(worker, NOTIFY_USER, handler)
    job_id = await enqueue(db)
    job = await run_until(worker, db, job_id, JobStatus.DEAD)
    assert (job.queue, job.attempts, job.last_error) == ("dlq_slack", 3, "platform down")
    assert handler.dead == [(job_id, "platform down")]


async def test_permanent_failure_is_dead_at_once(db: Store) -> None:
    """A failure that retrying can't fix is not retried."""
    handler = ScriptedHandler(JobFailed("duplicate", transient=False))
    worker = worker_for(db, max_attempts=5)
    register(worker, NOTIFY_USER, handler)
    job_id = await enqueue(db)
    job = await run_until(worker, db, job_id, JobStatus.DEAD)
    assert job.attempts == 1 and len(handler.runs) == 1


async def test_waiting_does_not_spend_attempts(db: Store) -> None:
    """RetryLater (an open circuit) reschedules without counting the run as an attempt."""
    handler = ScriptedHandler(*[RetryLater(datetime.now(UTC), "cooling down")] * 4, None)
    worker = worker_for(db, max_attempts=2)
    register(worker, NOTIFY_USER, handler)
    job_id = await enqueue(db)
    job = await run_until(worker, db, job_id, JobStatus.DONE)
    assert len(handler.runs) == 5 and job.attempts == 1


async def test_a_crashing_handler_is_retried_not_lost(db: Store) -> None:
    """An unexpected exception in a handler counts as a transient failure."""
    handler = ScriptedHandler(KeyError("bug"), None)
    worker = worker_for(db)
    register(worker, NOTIFY_USER, handler)
    job_id = await enqueue(db)
    await run_until(worker, db, job_id, JobStatus.DONE)
    assert len(handler.runs) == 2


async def test_jobs_left_running_by_a_dead_process_run_again(db: Store) -> None:
    """A job leased by a process that died is due again when the next one starts."""
    job_id = await enqueue(db)
    async with db.transaction() as tx:
        claimed = await tx.jobs.claim_due(
            now=datetime.now(UTC), limit=10, lease=timedelta(hours=1), owner="dead-process"
        )
    assert [job.id for job in claimed] == [job_id]
    handler = ScriptedHandler(None)
    worker = worker_for(db)
    register(worker, NOTIFY_USER, handler)
    job = await run_until(worker, db, job_id, JobStatus.DONE)
    assert job.attempts == 2 and len(handler.runs) == 1


async def stored_post(db: Store, status: PostStatus, **fields: object) -> str:
    """Store an X post in `status` and return its id."""
    post_id = str(uuid.uuid4())
    async with db.transaction() as tx:
        await tx.posts.create(
            NewPost(
                id=post_id, platform="x", status=status, message="Hello", requester="U1", **fields
            )
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


async def test_a_post_with_an_external_id_is_never_published_again(db: Store) -> None:
    """If the platform's id is already stored, the publish job only finishes the post."""
    post_id = await stored_post(db, PostStatus.APPROVED, external_id="tweet-0")
    publisher = CountingPublisher()
    jobs = publishing(db, publisher)
    await jobs.run(job_for(post_id))
    post = await db.posts.get(post_id)
    assert publisher.calls == 0
    assert post is not None and (post.status, post.external_id) == ("posted", "tweet-0")


async def test_a_publish_for_a_post_no_longer_approved_does_nothing(db: Store) -> None:
    """A discarded or already posted post is not published by a stale job."""
    post_id = await stored_post(db, PostStatus.REJECTED)
    publisher = CountingPublisher()
    await publishing(db, publisher).run(job_for(post_id))
    assert publisher.calls == 0


async def test_a_failing_platform_makes_jobs_wait_instead_of_hammering_it(db: Store) -> None:
    """After 3 failures in a row the platform's circuit opens: jobs wait for the cool-down
    (without spending attempts) and then send one trial."""
    publisher = CountingPublisher()
    publisher.failing = True
    jobs = publishing(db, publisher, cooldown=0.3)
    post_id = await stored_post(db, PostStatus.APPROVED)
    for _ in range(3):
        with pytest.raises(JobFailed):
            await jobs.run(job_for(post_id))
    with pytest.raises(RetryLater) as waiting:
        await jobs.run(job_for(post_id))
    assert publisher.calls == 3
    assert 0 < (waiting.value.run_at - datetime.now(UTC)).total_seconds() <= 0.31
    publisher.failing = False
    await asyncio.sleep(0.35)
    await jobs.run(job_for(post_id))
    assert publisher.calls == 4


def job_for(post_id: str) -> Job:
    """A publish job as the worker would hand it over."""
    return Job(
        id=1,
        kind=PUBLISH,
        post_id=post_id,
        payload={},
        attempts=1,
        next_attempt_at=datetime.now(UTC),
        status=JobStatus.RUNNING,
        created_at=datetime.now(UTC),
        updated_at=datetime.now(UTC),
    )


class BlockingHandler(ScriptedHandler):
    """Runs until `release` is set, then plays its script."""

    def __init__(self, *script: BaseException | None) -> None:
        super().__init__(*script)
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def run(self, job: Job) -> None:
        self.started.set()
        await self.release.wait()
        await super().run(job)


async def test_a_worker_whose_job_was_taken_over_changes_nothing(db: Store) -> None:
    """When another worker took a running job over (its lease looked expired), the first
    worker's late failure neither buries the job nor runs its dead-letter handler."""
    handler = BlockingHandler(JobFailed("duplicate", transient=False))
    worker = worker_for(db)
    register(worker, NOTIFY_USER, handler)
    job_id = await enqueue(db)
    await worker.start()
    try:
        await asyncio.wait_for(handler.started.wait(), timeout=5)
        async with db.transaction() as tx:
            (taken,) = await tx.jobs.claim_due(
                now=datetime.now(UTC) + timedelta(hours=1),
                limit=10,
                lease=timedelta(hours=2),
                owner="other-worker",
            )
        assert taken.id == job_id
        handler.release.set()
        await worker.drain()
    finally:
        await worker.stop()
    job = await db.jobs.get(job_id)
    assert job is not None and (job.status, job.lease_owner) == (JobStatus.RUNNING, "other-worker")
    assert handler.dead == [] and len(handler.runs) == 1


async def test_an_undelivered_card_waits_for_the_newer_card_update_queued_behind_it(
    db: Store,
) -> None:
    """A card job that dies while a newer card update of the post is queued leaves the
    decision to that one; the last card attempt marks the post undeliverable and tells the
    requester."""
    post_id = await stored_post(db, PostStatus.PENDING)
    domain = domain_of(db)
    cards = CardJobs(
        Cards(db, domain.lifecycle, domain.events),
        slack=None,  # type: ignore[arg-type]
        clock=SystemClock(),
    )
    async with db.transaction() as tx:
        dying = await enqueue_card(db, tx, post_id)
        (running,) = await tx.jobs.claim_due(
            now=datetime.now(UTC), limit=1, lease=timedelta(seconds=30), owner="w"
        )
        newer = await enqueue_card(db, tx, post_id)
        assert running.id == dying != newer
        # As the worker does: bury, then tell the handler, in one transaction.
        assert await tx.jobs.bury(dying, owner="w", queue="dlq_slack", error="not_in_channel")
        await cards.on_dead(tx, running, "not_in_channel")
    post = await db.posts.get(post_id)
    assert post is not None and post.status == PostStatus.PENDING
    async with db.transaction() as tx:
        (last,) = await tx.jobs.claim_due(
            now=datetime.now(UTC) + timedelta(hours=1),
            limit=1,
            lease=timedelta(seconds=30),
            owner="w",
        )
        assert last.id == newer
        assert await tx.jobs.bury(newer, owner="w", queue="dlq_slack", error="not_in_channel")
        await cards.on_dead(tx, last, "not_in_channel")
    post = await db.posts.get(post_id)
    assert post is not None and post.status == PostStatus.FAILED_APPROVAL_SEND
    assert [job.kind for job in await db.jobs.for_post(post_id)].count(NOTIFY_USER) == 1


class CountingStore:
    """A store that counts its write transactions."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.transactions = 0

    @property
    def posts(self) -> PostReads:
        """The real store's posts."""
        return self._store.posts

    @property
    def jobs(self) -> JobReads:
        """The real store's jobs."""
        return self._store.jobs

    @property
    def audit(self) -> AuditReads:
        """The real store's audit trail."""
        return self._store.audit

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """Count, then the real transaction."""
        self.transactions += 1
        async with self._store.transaction() as tx:
            yield tx

    async def ping(self) -> None:
        """The real store's ping."""
        await self._store.ping()

    async def close(self) -> None:
        """The real store's close."""
        await self._store.close()


async def test_a_held_back_job_is_not_polled_for_with_writes(db: Store) -> None:
    """While a due card update waits for the one running for its post, the worker opens no
    write transactions for it; the running one's end starts it at once."""
    counting = CountingStore(db)
    post_id = await stored_post(db, PostStatus.PENDING)
    handler = BlockingHandler()
    worker = worker_for(counting, lease=30)
    register(worker, SYNC_CARD, handler)
    async with db.transaction() as tx:
        first = await enqueue_card(db, tx, post_id)
    await worker.start()
    try:
        await asyncio.wait_for(handler.started.wait(), timeout=5)
        async with db.transaction() as tx:
            second = await enqueue_card(db, tx, post_id)
        worker.wake()
        await asyncio.sleep(0.1)
        before = counting.transactions
        await asyncio.sleep(0.5)
        assert counting.transactions - before <= 1, "polled with write transactions"
        handler.release.set()
        await wait_until(lambda: [job.id for job in handler.runs] == [first, second])
    finally:
        await worker.stop()


class ConcurrencyProbe:
    """A handler that records how many of its runs overlap, each run held until released."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.done = 0
        self.release = asyncio.Event()

    async def run(self, job: Job) -> None:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await self.release.wait()
        finally:
            self.running -= 1
            self.done += 1

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        raise AssertionError("no job of the probe dies")


async def test_a_kind_with_its_own_concurrency_never_exceeds_it_nor_blocks_others(
    db: Store,
) -> None:
    """Six jobs of a kind limited to 2 run at most 2 at once, and a job of another kind
    still runs meanwhile (in the shared room)."""
    limited = ConcurrencyProbe()
    other = ScriptedHandler(None)
    worker = worker_for(db)
    worker.register(
        JobType(name="limited", handler=limited, dead_letter="dlq", label="L", concurrency=2)
    )
    register(worker, NOTIFY_USER, other)
    ids = [await enqueue(db, "limited") for _ in range(6)]
    other_id = await enqueue(db)
    await worker.start()
    try:
        await wait_until(lambda: limited.running == 2)
        await wait_until(lambda: len(other.runs) == 1)
        await asyncio.sleep(0.2)
        assert limited.most == 2
        limited.release.set()
        await wait_until(lambda: limited.done == 6)
        # The last run has returned; its completion commits just after.
        await worker.drain()
    finally:
        await worker.stop()
    assert limited.most == 2
    for job_id in [*ids, other_id]:
        job = await db.jobs.get(job_id)
        assert job is not None and job.status == JobStatus.DONE


class SteppedClock:
    """A clock that stands still until the test moves it on."""

    def __init__(self) -> None:
        self.at = datetime(2030, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        """The time the test set."""
        return self.at


async def test_a_job_due_later_runs_when_the_injected_clock_gets_there(db: Store) -> None:
    """A job queued for an hour from now waits while the clock stands still and runs once
    the test moves the clock an hour on: no real waiting."""
    clock = SteppedClock()
    queue = JobQueue(db, clock=clock)
    handler = ScriptedHandler(None)
    retry = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05)
    worker = Worker(db, queue, retry=retry, lease=5, clock=clock)
    register(worker, NOTIFY_USER, handler)
    async with queue.transaction() as tx:
        job_id = await queue.enqueue(tx, NOTIFY_USER, run_at=clock.now() + timedelta(hours=1))
    await worker.start()
    try:
        await asyncio.sleep(0.3)
        assert handler.runs == []
        clock.at += timedelta(hours=1)
        worker.wake()
        await wait_until(lambda: len(handler.runs) == 1)
    finally:
        await worker.stop()
    assert [job.id for job in handler.runs] == [job_id]


class FinishingHandler:
    """Does its work in a transaction and finishes its job there; with `fail_after`, the
    transaction then rolls back."""

    def __init__(self, db: Store, *, fail_after: bool = False) -> None:
        self.db = db
        self.fail_after = fail_after
        self.runs = 0

    async def run(self, job: Job) -> None:
        self.runs += 1
        with contextlib.suppress(RuntimeError):
            async with self.db.transaction() as tx:
                await tx.audit.record(
                    actor="U1", action="work", post_id=None, outcome=f"run {self.runs}"
                )
                await finish_job(tx)
                if self.fail_after:
                    raise RuntimeError("rolled back after finishing")

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        """Never dead here."""


async def test_a_job_finished_in_its_handlers_transaction_costs_no_extra_write(
    db: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`finish_job(tx)` makes the job done with the work the handler commits: the job is
    completed once, there, and the worker writes no completion of its own."""
    completions: list[int] = []
    complete = SqlJobs.complete

    async def counted(self: SqlJobs, job_id: int, *, owner: str) -> bool:
        completions.append(job_id)
        return await complete(self, job_id, owner=owner)

    monkeypatch.setattr(SqlJobs, "complete", counted)
    worker = worker_for(db)
    handler = FinishingHandler(db)
    register(worker, NOTIFY_USER, handler)
    job_id = await enqueue(db)
    await run_until(worker, db, job_id, JobStatus.DONE)
    await asyncio.sleep(0.05)
    assert handler.runs == 1 and completions == [job_id]
    assert [entry.outcome for entry in await db.audit.recent(10)] == ["run 1"]


async def test_a_finish_rolled_back_with_its_work_is_finished_by_the_worker(db: Store) -> None:
    """If the handler's transaction rolls back after `finish_job`, nothing of it stands and
    the worker still marks the job done when the handler returns (never left running)."""
    worker = worker_for(db)
    handler = FinishingHandler(db, fail_after=True)
    register(worker, NOTIFY_USER, handler)
    job_id = await enqueue(db)
    job = await run_until(worker, db, job_id, JobStatus.DONE)
    assert job.status == JobStatus.DONE and handler.runs == 1
    assert [entry.outcome for entry in await db.audit.recent(10)] == []


async def test_finish_job_outside_a_worker_does_nothing(db: Store) -> None:
    """Work done outside a job run (a test, a handler called directly) finishes nothing."""
    job_id = await enqueue(db)
    async with db.transaction() as tx:
        await finish_job(tx)
    job = await db.jobs.get(job_id)
    assert job is not None and job.status == JobStatus.QUEUED


class ClaimRollsBackOnce(CountingStore):
    """A store whose first transaction that claims jobs rolls back at its end (a commit that
    fails, a cancellation as it ends)."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.rolled_back = False

    async def wait_for_jobs(self, timeout: float) -> bool:
        """The real store's wake-ups."""
        return await self._store.wait_for_jobs(timeout)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """The real transaction; the first one that claimed something raises before it
        commits."""
        async with self._store.transaction() as tx:
            claim = tx.jobs.claim_due
            claimed: list[Job] = []

            async def claiming(**arguments: object) -> list[Job]:
                jobs = await claim(**arguments)  # type: ignore[arg-type]
                claimed.extend(jobs)
                return jobs

            tx.jobs.claim_due = claiming  # type: ignore[method-assign]
            yield tx
            if claimed and not self.rolled_back:
                self.rolled_back = True
                raise RuntimeError("the claim did not commit")


async def test_jobs_start_only_once_their_claim_has_committed(db: Store) -> None:
    """A claim that rolls back starts nothing: its jobs run once, from a claim that held, and
    never as well from the one that was undone (which would be two runs of one job)."""
    store = ClaimRollsBackOnce(db)
    worker = Worker(store, JobQueue(db), retry=RetryPolicy(3, 0.01, 0.05), lease=5)  # type: ignore[arg-type]
    handler = ScriptedHandler()
    register(worker, NOTIFY_USER, handler)
    job_id = await enqueue(db)
    await worker.start()
    try:
        await wait_until(lambda: store.rolled_back, timeout=5)

        async def done() -> Job | None:
            job = await db.jobs.get(job_id)
            return job if job is not None and job.status == JobStatus.DONE else None

        job = await wait_until(done, timeout=10)
        await asyncio.sleep(0.1)
    finally:
        await worker.stop()
    assert job.attempts == 1
    assert [run.id for run in handler.runs] == [job_id]


async def job_of(db: Store, job_id: int) -> Job:
    """The stored job."""
    found = await db.jobs.get(job_id)
    assert found is not None
    return found


class Gate:
    """A job handler that notes each job it runs and holds it until `open`."""

    def __init__(self) -> None:
        self.runs: list[Job] = []
        self.started = asyncio.Event()
        self.open = asyncio.Event()

    async def run(self, job: Job) -> None:
        self.runs.append(job)
        self.started.set()
        await self.open.wait()

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        raise AssertionError("no job of this test dies")


def counting_claims(worker: Worker, monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The times `worker` claims jobs from now on."""
    claims: list[datetime] = []
    claim = worker._claim

    async def counted(now: datetime) -> bool:
        claims.append(now)
        return await claim(now)

    monkeypatch.setattr(worker, "_claim", counted)
    return claims


async def test_a_job_that_starts_at_once_runs_when_its_transaction_commits_unclaimed(
    db: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job of a kind that `starts_at_once`, queued due now in the queue's transaction, is
    written leased to this worker and runs as soon as the transaction commits, without a
    claim; it is done once it returns. A kind that doesn't, or a job due later, is queued."""
    queue = JobQueue(db)
    worker = Worker(
        db, queue, retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05), lease=30
    )
    gate = Gate()
    worker.register(JobType("card", gate, "dlq_slack", "card", starts_at_once=True))
    register(worker, "other", ScriptedHandler())
    await worker.start()
    try:
        await asyncio.sleep(0.05)  # the first look at the table is over
        claims = counting_claims(worker, monkeypatch)
        async with queue.transaction() as tx:
            job_id = await queue.enqueue(tx, "card", key="card:1")
            later = await queue.enqueue(tx, "card", run_at=datetime.now(UTC) + timedelta(hours=1))
            assert not gate.runs, "nothing starts before the commit"
        async with asyncio.timeout(5):
            await gate.started.wait()
        (run,) = gate.runs
        assert (run.id, run.status, run.lease_owner, run.attempts) == (
            job_id,
            JobStatus.RUNNING,
            worker.owner,
            1,
        )
        assert (await job_of(db, later)).status == JobStatus.QUEUED
        gate.open.set()
        await wait_until(lambda: not worker._running)
        assert (await job_of(db, job_id)).status == JobStatus.DONE
        assert claims, "the job due later still wakes the worker, which looks"
        async with queue.transaction() as tx:
            other = await queue.enqueue(tx, "other")
        await wait_until(lambda: len(claims) >= 2)
        await worker.drain()
        assert (await job_of(db, other)).status == JobStatus.DONE
    finally:
        gate.open.set()
        await worker.stop()


async def test_a_rolled_back_lease_gives_its_room_back_and_a_full_room_means_a_claim(
    db: Store,
) -> None:
    """A job leased in a transaction that rolls back leaves nothing behind, not even its
    room; while its kind's room is full, a new job is queued and claimed once there is room."""
    queue = JobQueue(db)
    worker = Worker(
        db, queue, retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05), lease=30
    )
    gate = Gate()
    worker.register(JobType("card", gate, "dlq_slack", "card", concurrency=1, starts_at_once=True))
    await worker.start()
    try:
        with pytest.raises(RuntimeError):
            async with queue.transaction() as tx:
                await queue.enqueue(tx, "card")
                raise RuntimeError("rolled back")
        assert await db.jobs.counts() == {}
        async with queue.transaction() as tx:
            first = await queue.enqueue(tx, "card")
        async with asyncio.timeout(5):
            await gate.started.wait()
        async with queue.transaction() as tx:
            second = await queue.enqueue(tx, "card")
        assert (await job_of(db, second)).status == JobStatus.QUEUED, "the room is taken"
        gate.open.set()
        await worker.drain()
        assert [run.id for run in gate.runs] == [first, second]
        assert [(await job_of(db, n)).status for n in (first, second)] == [JobStatus.DONE] * 2
    finally:
        gate.open.set()
        await worker.stop()


async def test_a_stopped_worker_leases_nothing(db: Store) -> None:
    """Before `start()` and after `stop()`, jobs are queued as usual (a later worker claims
    them): none is left leased to a worker that won't run it."""
    queue = JobQueue(db)
    worker = Worker(
        db, queue, retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05), lease=30
    )
    worker.register(JobType("card", Gate(), "dlq_slack", "card", starts_at_once=True))
    async with queue.transaction() as tx:
        before = await queue.enqueue(tx, "card", key="before")
    assert (await job_of(db, before)).status == JobStatus.QUEUED
    await worker.start()
    await worker.stop()
    async with queue.transaction() as tx:
        after = await queue.enqueue(tx, "card", key="after")
    assert (await job_of(db, after)).status == JobStatus.QUEUED
