"""The persistent retry table and its worker: every Slack send and every publish goes through it.

A state change and the job that carries it out are written in one transaction (see
`enqueue_card`, `enqueue_publish`), so a crash can't keep one without the other. The worker
leases due jobs, runs them concurrently, renews the leases while they run, and on start-up
makes every job an earlier process left running due again at once: this process holds the
SQLite file's lock (`storage.sqlite.lock`), so the process that leased them is gone, whatever
their leases say.

A job handler signals how a run ended by returning (done) or raising:

- `RetryLater`: not now, and it doesn't count as an attempt (a platform's breaker is open);
- `JobFailed(transient=True)`: try again after an exponential backoff with jitter (at least the
  service's own Retry-After), until `max_attempts` runs, then the job is dead;
- `JobFailed(transient=False)`: dead at once (retrying can't help);
- anything else: a bug, logged with its traceback and retried like a transient failure.

A dead job moves to its dead-letter queue (`dlq_slack`, `dlq_publish`) and its handler's
`on_dead` records what it means for the post, in the same transaction. Reasons quote third
parties (a platform's error text), so they are scrubbed of secrets before they are stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import secrets
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

import structlog

from services.errors import SocialpostError
from storage import Store, Transaction, background_work
from storage.models import Job, NewJob

log = structlog.get_logger(__name__)

# Seconds between looks at the table while nothing wakes the worker (read-only looks).
IDLE_LOOK = 1.0


class JobKind(StrEnum):
    """What a job does."""

    SYNC_CARD = "sync_card"
    PUBLISH = "publish"
    NOTIFY_USER = "notify_user"


DEAD_LETTER_QUEUES = {
    JobKind.SYNC_CARD: "dlq_slack",
    JobKind.NOTIFY_USER: "dlq_slack",
    JobKind.PUBLISH: "dlq_publish",
}


class RetryLater(SocialpostError):
    """Run the job again at `run_at` (epoch seconds) without counting this run as an attempt."""

    def __init__(self, run_at: float, reason: str) -> None:
        self.run_at = run_at
        self.reason = reason
        super().__init__(reason)


class JobFailed(SocialpostError):
    """A run failed; `transient` says whether another run may succeed."""

    def __init__(self, reason: str, *, transient: bool, retry_after: float | None = None):
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after
        super().__init__(reason)


class JobHandler(Protocol):
    """Carries out one kind of job."""

    async def run(self, job: Job) -> None:
        """Do the work; return when done, raise `RetryLater` or `JobFailed` otherwise."""

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        """Record, inside the dead-lettering transaction, that the job failed for good."""


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    Exponential from `base`, capped at `cap`, with "equal jitter": somewhere between half and
    all of the step, so retries of many jobs that failed together spread out.
    """
    step = min(cap, base * 2.0 ** max(attempt - 1, 0))
    return step / 2 + rng.uniform(0.0, step / 2)


def _key(kind: JobKind, post_id: str) -> str:
    # One card update and one publish of a post at a time; queued card updates merge (the
    # job reads the post when it runs).
    return f"{kind}:{post_id}"


async def enqueue_card(tx: Transaction, post_id: str) -> int:
    """Show the post's current state on its Slack card (posting the card if it has none);
    returns the id of the card job (an already queued one absorbs this request)."""
    return await tx.jobs.enqueue(
        NewJob(
            kind=JobKind.SYNC_CARD,
            post_id=post_id,
            run_at=datetime.now(UTC),
            key=_key(JobKind.SYNC_CARD, post_id),
        )
    )


async def enqueue_publish(tx: Transaction, post_id: str, *, after_card: int | None) -> None:
    """Publish the post, once the card job `after_card` has had its first try (the card
    says "Publishing..." first; its retries never hold the publish back)."""
    await tx.jobs.enqueue(
        NewJob(
            kind=JobKind.PUBLISH,
            post_id=post_id,
            run_at=datetime.now(UTC),
            key=_key(JobKind.PUBLISH, post_id),
            after_job_id=after_card,
        )
    )


async def enqueue_notice(
    tx: Transaction, post_id: str | None, user_id: str, notice: str, detail: str | None = None
) -> None:
    """Tell `user_id` privately about `notice` (a `services.notifier.Notice`)."""
    payload = {"user": user_id, "notice": notice, "detail": detail}
    await tx.jobs.enqueue(
        NewJob(kind=JobKind.NOTIFY_USER, post_id=post_id, run_at=datetime.now(UTC), payload=payload)
    )


async def _cancel(tasks: list[asyncio.Task[None] | None]) -> None:
    """Cancel the tasks and wait until they are gone."""
    live = [task for task in tasks if task is not None]
    for task in live:
        task.cancel()
    for task in live:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _epoch(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)


class Outbox:
    """The worker that drains the retry table. `start()` at start-up, `stop()` at shutdown.

    Its jobs are leased to `owner` (unique per instance): a job whose lease another worker
    took over is finished by that one, and this one's late result changes nothing.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_attempts: int,
        base_delay: float,
        max_delay: float,
        lease: float,
        concurrency: int = 16,
        rng: random.Random | None = None,
        owner: str | None = None,
        scrub: Callable[[str], str] = str,
    ) -> None:
        self._store = store
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._scrub = scrub
        self._handlers: dict[str, JobHandler] = {}
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._lease = lease
        self._concurrency = concurrency
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._running: dict[int, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._lease_task: asyncio.Task[None] | None = None

    def register(self, kind: JobKind, handler: JobHandler) -> None:
        """Run jobs of `kind` with `handler` (before `start()`)."""
        self._handlers[kind] = handler

    def wake(self) -> None:
        """Look for due jobs now (call after committing a transaction that queued some)."""
        self._wake.set()

    async def start(self) -> None:
        """Recover jobs an earlier (dead: we hold the database) process left running, then
        start working."""
        with background_work():
            async with self._store.transaction() as tx:
                recovered = await tx.jobs.requeue_running(datetime.now(UTC))
            if recovered:
                log.warning("outbox_recovered_jobs", count=recovered)
            # The tasks (and the job tasks they start) inherit the background mark.
            self._loop_task = asyncio.create_task(self._work(), name="outbox")
            self._lease_task = asyncio.create_task(self._renew_leases(), name="outbox-leases")

    async def stop(self, grace: float = 0.0) -> None:
        """Stop claiming jobs and give running ones `grace` seconds to finish (a publish cut
        off mid-request would run again after the restart and could only find its post as
        duplicate content); what is still running then is cancelled and runs again next start.
        """
        await _cancel([self._loop_task])
        running = list(self._running.values())
        if running and grace > 0:
            await asyncio.wait(running, timeout=grace)
        await _cancel([self._lease_task, *self._running.values()])
        self._loop_task = self._lease_task = None

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until no job is due or running (tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            due = await self._store.jobs.next_due_at()
            if not self._running and (due is None or due > datetime.now(UTC)):
                return
            await asyncio.sleep(0.01)
        raise TimeoutError("outbox did not drain")

    async def _work(self) -> None:
        while True:
            try:
                claimed_at = datetime.now(UTC)
                if not await self._claim(claimed_at):
                    await self._sleep_until_due(claimed_at)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The worker must outlive a bad moment (a locked or full disk, say).
                log.exception("outbox_loop_error")
                await asyncio.sleep(1.0)

    async def _claim(self, now: datetime) -> bool:
        """Start the jobs due at `now` there is room for; True when the room was filled."""
        self._wake.clear()
        free = self._concurrency - len(self._running)
        if free <= 0:
            return False
        async with self._store.transaction() as tx:
            jobs = await tx.jobs.claim_due(
                now=now,
                limit=free,
                lease=timedelta(seconds=self._lease),
                owner=self.owner,
                exclude=self._running.keys(),
            )
        for job in jobs:
            task = asyncio.create_task(self._run(job), name=f"job-{job.id}")
            self._running[job.id] = task
            task.add_done_callback(functools.partial(self._finished, job.id))
        return len(jobs) == free

    def _finished(self, job_id: int, _task: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)
        self._wake.set()

    async def _sleep_until_due(self, claimed_at: datetime) -> None:
        """Wait until a job may be claimable, without writing to the database meanwhile.

        A job due at `claimed_at` that the claim left alone is held back by a running job of
        its key (or there was no room): only the end of a job releases it, and the end of a
        job wakes the worker, as does every commit that queues a job. So the next job to look
        for is one due (or a lease that ends) after `claimed_at`; the table is read again
        every `IDLE_LOOK` seconds in case one was queued without a wake.
        """
        while not self._wake.is_set():
            due = None
            if len(self._running) < self._concurrency:
                due = await self._store.jobs.next_due_at(after=claimed_at)
            wait = IDLE_LOOK if due is None else (due - datetime.now(UTC)).total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=min(max(wait, 0.0), IDLE_LOOK))
            if due is not None and due <= datetime.now(UTC):
                return

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            if not self._running:
                continue
            try:
                async with self._store.transaction() as tx:
                    # A job another worker took over isn't renewed; its result will be
                    # dropped when it ends (`job_result_dropped`).
                    await tx.jobs.renew(
                        list(self._running), owner=self.owner, lease=timedelta(seconds=self._lease)
                    )
            except Exception:
                log.exception("outbox_lease_renewal_failed")

    async def _run(self, job: Job) -> None:
        handler = self._handlers[job.kind]
        bound = log.bind(job_id=job.id, kind=job.kind, post_id=job.post_id, attempt=job.attempts)
        try:
            await handler.run(job)
        except RetryLater as wait:
            bound.info("job_waiting", reason=wait.reason, run_at=wait.run_at)
            async with self._store.transaction() as tx:
                kept = await tx.jobs.reschedule(
                    job.id,
                    owner=self.owner,
                    run_at=_epoch(wait.run_at),
                    error=self._scrub(wait.reason),
                    count_attempt=False,
                )
            self._lost(kept, bound)
            return
        except JobFailed as failure:
            await self._failed(job, handler, failure, bound)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            bound.exception("job_crashed")
            await self._failed(job, handler, JobFailed(repr(exc), transient=True), bound)
            return
        async with self._store.transaction() as tx:
            kept = await tx.jobs.complete(job.id, owner=self.owner)
        self._lost(kept, bound)

    @staticmethod
    def _lost(kept: bool, bound: structlog.BoundLogger) -> None:
        if not kept:
            # Another worker took the job over after our lease ran out: its result stands.
            bound.warning("job_result_dropped", reason="lease taken over")

    async def _failed(
        self, job: Job, handler: JobHandler, failure: JobFailed, bound: structlog.BoundLogger
    ) -> None:
        reason = self._scrub(failure.reason)
        if failure.transient and job.attempts < self._max_attempts:
            delay = backoff_delay(
                job.attempts, base=self._base_delay, cap=self._max_delay, rng=self._rng
            )
            delay = max(delay, failure.retry_after or 0.0)
            bound.warning("job_retry_scheduled", reason=reason, delay=round(delay, 3))
            async with self._store.transaction() as tx:
                kept = await tx.jobs.reschedule(
                    job.id,
                    owner=self.owner,
                    run_at=_epoch(time.time() + delay),
                    error=reason,
                )
            self._lost(kept, bound)
            return
        queue = DEAD_LETTER_QUEUES[JobKind(job.kind)]
        bound.error("job_dead", reason=reason, queue=queue)
        async with self._store.transaction() as tx:
            kept = await tx.jobs.bury(job.id, owner=self.owner, queue=queue, error=reason)
            if kept:
                await handler.on_dead(tx, job, reason)
        self._lost(kept, bound)
        self.wake()
