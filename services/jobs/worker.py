"""The worker that drains the retry table: leases, renewals, concurrency, wake-ups, shutdown.

The worker leases due jobs, runs them concurrently (each kind with a `concurrency` of its own in
its own room, every other kind in the shared room), renews the leases while they run, and on
start-up makes the jobs an earlier process left running due again (`requeue_running`: on
SQLite all of them, since this process holds the file's lock; on PostgreSQL those whose lease
has ended, since other processes may be running the rest). It sleeps until the next job is
due or a commit that queued one wakes it: this process's (`JobQueue`), or any process's on
the same database (`Store.wait_for_jobs`: NOTIFY on PostgreSQL). A wake-up is a hint; the
table is the truth, read again every `IDLE_LOOK` seconds in case a wake-up was lost. While
idle it only reads.

A job handler signals how a run ended by returning (done) or raising:

- `RetryLater`: not now, and it doesn't count as an attempt (a platform's breaker is open);
- `JobFailed(transient=True)`: try again after the retry policy's backoff (at least the
  service's own Retry-After), until its last run, then the job is dead;
- `JobFailed(transient=False)`: dead at once (retrying can't help);
- anything else: a bug, logged with its traceback and retried like a transient failure.

A kind that `starts_at_once` (a card, a publish: someone watches for it) skips the claim: a
job of it due now is written already leased to this worker (`JobQueue`, when its room has
space: `reserve`), and starts as soon as the transaction that queued it commits (`adopt`).

A handler whose work ends in a transaction of its own may finish its job in it
(`finish_job(tx)`): the job is then done when that work commits, and the worker saves a write
transaction per job (on SQLite's one writer, each transaction is a turn everyone waits for).

A dead job moves to its type's dead-letter queue and its handler's `on_dead` records what it
means for the post, in the same transaction. Reasons quote third parties (a platform's error
text), so they are scrubbed of secrets before they are stored. Jobs are leased to `owner`
(unique per worker): a job whose lease another worker took over is finished by that one, and
this one's late result changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
import socket
import time
from collections import Counter
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from services.clock import Clock, SystemClock
from services.errors import JobFailed, RetryLater
from services.jobs.queue import JobQueue
from services.jobs.registry import JobType, JobTypes
from services.jobs.retry import RetryPolicy
from storage import Store, Transaction, background_work
from storage.models import Job

log = structlog.get_logger(__name__)

# Seconds between looks at the table while nothing wakes the worker (read-only looks): the
# fallback for a lost wake-up (a PostgreSQL listener reconnecting, say).
IDLE_LOOK = 5.0
# A job of a kind no handler is registered for (a newer process's, say) waits this long.
UNKNOWN_KIND_WAIT = timedelta(seconds=60)


@dataclass
class _Running:
    """The job this task runs for the worker, and the transaction that finished it, if the
    handler finished it in its own (`finish_job`)."""

    job: Job
    owner: str
    finished_in: Transaction | None = None
    kept: bool = True


_running_job: ContextVar[_Running | None] = ContextVar("socialpost_running_job", default=None)


async def finish_job(tx: Transaction) -> None:
    """Mark the job this task runs as done inside `tx`, with the work it commits (nothing
    outside a job run by the worker). If `tx` rolls back, the worker finishes the job as usual
    when its handler returns."""
    running = _running_job.get()
    if running is None or running.finished_in is not None:
        return
    running.kept = await tx.jobs.complete(running.job.id, owner=running.owner)
    running.finished_in = tx


@dataclass(frozen=True)
class _Room:
    """Room for running jobs: `limit` at once, of `kinds` only (or of every kind but
    `except_kinds`)."""

    name: str
    limit: int
    kinds: tuple[str, ...] | None = None
    except_kinds: tuple[str, ...] = ()


async def _cancel(tasks: list[asyncio.Task[None] | None]) -> None:
    """Cancel the tasks and wait until they are gone."""
    live = [task for task in tasks if task is not None]
    for task in live:
        # Cancelled again until it is gone: a task may swallow one cancellation (a library's
        # wait_for racing it on Python 3.11), and waiting for it then would never end.
        while not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=1.0)
        if not task.cancelled() and task.exception() is not None:
            log.warning("task_failed_while_stopping", task=task.get_name())


class Worker:
    """Runs the retry table's jobs. `register` the job types, `start()` at start-up, `stop()`
    at shutdown."""

    def __init__(
        self,
        store: Store,
        queue: JobQueue,
        *,
        retry: RetryPolicy,
        lease: float,
        concurrency: int = 16,
        clock: Clock | None = None,
        owner: str | None = None,
        scrub: Callable[[str], str] = str,
    ) -> None:
        self._store = store
        self.types = JobTypes()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._retry = retry
        self._lease = lease
        self._concurrency = concurrency
        self._clock = clock or SystemClock()
        self._scrub = scrub
        self._wake = asyncio.Event()
        self._running: dict[int, tuple[asyncio.Task[None], str]] = {}
        # Rooms kept for jobs being leased to this worker by transactions not yet committed.
        self._reserved: Counter[str] = Counter()
        self._accepting = False
        self._loop_task: asyncio.Task[None] | None = None
        self._lease_task: asyncio.Task[None] | None = None
        self._listen_task: asyncio.Task[None] | None = None
        queue.on_queued(self.wake)
        queue.run_here(self)

    @property
    def lease_length(self) -> timedelta:
        """How long a lease lasts (renewed every third of it while its job runs)."""
        return timedelta(seconds=self._lease)

    def register(self, job_type: JobType) -> None:
        """Run jobs of `job_type` (before `start()`)."""
        self.types.register(job_type)

    def wake(self) -> None:
        """Look for due jobs now (a transaction that queued some has committed)."""
        self._wake.set()

    def _rooms(self) -> list[_Room]:
        own = [t for t in self.types if t.concurrency is not None]
        rooms = [_Room(t.name, t.concurrency, kinds=(t.name,)) for t in own if t.concurrency]
        shared = _Room("shared", self._concurrency, except_kinds=tuple(t.name for t in own))
        return [shared, *rooms]

    def _free(self, room: _Room) -> int:
        busy = sum(1 for _, name in self._running.values() if name == room.name)
        return room.limit - busy - self._reserved[room.name]

    def _room_for(self, kind: str) -> _Room:
        rooms = self._rooms()
        return next((room for room in rooms if room.kinds and kind in room.kinds), rooms[0])

    def reserve(self, kind: str) -> str | None:
        """Keep room for a job of `kind` that a transaction is leasing to this worker (the
        room's name), or None: the worker isn't running, the kind isn't one that starts at
        once (`JobType.starts_at_once`), or its room is full."""
        job_type = self.types.get(kind)
        if not self._accepting or job_type is None or not job_type.starts_at_once:
            return None
        room = self._room_for(kind)
        if self._free(room) <= 0:
            return None
        self._reserved[room.name] += 1
        return room.name

    def release(self, room: str) -> None:
        """Give back a reservation whose job was not written after all."""
        self._reserved[room] -= 1

    def adopt(self, job: Job, room: str) -> None:
        """Run `job`, leased to this worker by a transaction that committed. Stopped
        meanwhile, it is left to run again after its lease (or at the next start)."""
        self._reserved[room] -= 1
        if self._accepting:
            self._start(job, room)

    async def start(self) -> None:
        """Recover jobs an earlier (dead: we hold the database) process left running, then
        start working."""
        with background_work():
            async with self._store.transaction() as tx:
                recovered = await tx.jobs.requeue_running(self._clock.now())
            if recovered:
                log.warning("jobs_recovered", count=recovered)
            # The tasks (and the job tasks they start) inherit the background mark.
            self._accepting = True
            self._loop_task = asyncio.create_task(self._work(), name="jobs-worker")
            self._lease_task = asyncio.create_task(self._renew_leases(), name="jobs-leases")
            self._listen_task = asyncio.create_task(self._listen_for_jobs(), name="jobs-wake")

    async def stop(self, grace: float = 0.0) -> None:
        """Stop claiming jobs and give running ones `grace` seconds to finish (a publish cut
        off mid-request would run again after the restart and could only find its post as
        duplicate content); what is still running then is cancelled and runs again next start.
        """
        self._accepting = False
        await _cancel([self._loop_task, self._listen_task])
        running = [task for task, _ in self._running.values()]
        if running and grace > 0:
            await asyncio.wait(running, timeout=grace)
        await _cancel([self._lease_task, *(task for task, _ in self._running.values())])
        self._loop_task = self._lease_task = self._listen_task = None

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until no job is due or running (tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            due = await self._store.jobs.next_due_at()
            if not self._running and (due is None or due > self._clock.now()):
                return
            await asyncio.sleep(0.01)
        raise TimeoutError("the jobs worker did not drain")

    async def _work(self) -> None:
        while True:
            try:
                claimed_at = self._clock.now()
                if not await self._claim(claimed_at):
                    await self._sleep_until_due(claimed_at)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The worker must outlive a bad moment (a locked or full disk, say).
                log.exception("jobs_worker_error")
                await asyncio.sleep(1.0)

    async def _claim(self, now: datetime) -> bool:
        """Start the jobs due at `now` there is room for; True when some room was filled."""
        self._wake.clear()
        rooms = [(room, free) for room in self._rooms() if (free := self._free(room)) > 0]
        if not rooms:
            return False
        filled = False
        lease = timedelta(seconds=self._lease)
        claimed: list[tuple[Job, str]] = []
        async with self._store.transaction() as tx:
            for room, free in rooms:
                jobs = await tx.jobs.claim_due(
                    now=now,
                    limit=free,
                    lease=lease,
                    owner=self.owner,
                    exclude=[*self._running, *(job.id for job, _ in claimed)],
                    kinds=room.kinds,
                    except_kinds=room.except_kinds,
                )
                claimed += [(job, room.name) for job in jobs]
                filled = filled or len(jobs) == free
        # Only once the claims have committed: a job started inside the transaction could
        # run (and try to finish) before its lease exists, or without one at all if the
        # transaction then rolled back (a cancellation at shutdown, a failed statement), and
        # another worker could claim and run it at the same time.
        for job, room_name in claimed:
            self._start(job, room_name)
        return filled

    def _start(self, job: Job, room_name: str) -> None:
        # Started from a claim or an adoption: background work either way (a job started
        # from an interactive request's commit must not take its turns ahead of requests).
        with background_work():
            task = asyncio.create_task(self._run(job), name=f"job-{job.id}")
        self._running[job.id] = (task, room_name)
        task.add_done_callback(functools.partial(self._finished, job.id))

    def _finished(self, job_id: int, _task: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)
        self._wake.set()

    async def _sleep_until_due(self, claimed_at: datetime) -> None:
        """Wait until a job may be claimable, without writing to the database meanwhile.

        A job due at `claimed_at` that the claim left alone is held back by a running job of
        its key (or there was no room): only the end of a job releases it, and the end of a
        job wakes the worker, as does every commit that queues a job (in any process). So the
        next job to look for is one due (or a lease that ends) after `claimed_at`; the table
        is read again every `IDLE_LOOK` seconds in case a wake-up was lost.
        """
        while not self._wake.is_set():
            due = None
            if any(self._free(room) > 0 for room in self._rooms()):
                due = await self._store.jobs.next_due_at(after=claimed_at)
            wait = IDLE_LOOK if due is None else (due - self._clock.now()).total_seconds()
            with contextlib.suppress(TimeoutError):
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                # cancellation that lands as the wait ends, and the worker would never stop.
                async with asyncio.timeout(min(max(wait, 0.0), IDLE_LOOK)):
                    await self._wake.wait()
            if due is not None and due <= self._clock.now():
                return

    async def _listen_for_jobs(self) -> None:
        """Wake the worker whenever a transaction that queued work commits, in any process
        sharing the database."""
        while True:
            try:
                if await self._store.wait_for_jobs(IDLE_LOOK):
                    self.wake()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("jobs_wake_up_failed")
                await asyncio.sleep(1.0)

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
                log.exception("jobs_lease_renewal_failed")

    async def _run(self, job: Job) -> None:
        bound = log.bind(job_id=job.id, kind=job.kind, post_id=job.post_id, attempt=job.attempts)
        job_type = self.types.get(job.kind)
        if job_type is None:
            bound.error("job_kind_unknown")
            wait = RetryLater(self._clock.now() + UNKNOWN_KIND_WAIT, f"no handler for {job.kind}")
            await self._reschedule(job, None, wait, bound)
            return
        running = _Running(job, self.owner)
        _running_job.set(running)
        try:
            await job_type.handler.run(job)
        except RetryLater as wait:
            bound.info("job_waiting", reason=wait.reason, run_at=wait.run_at.isoformat())
            await self._reschedule(job, job_type, wait, bound)
            return
        except JobFailed as failure:
            await self._failed(job, job_type, failure, bound)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            bound.exception("job_crashed")
            await self._failed(job, job_type, JobFailed(repr(exc), transient=True), bound)
            return
        if running.finished_in is not None and running.finished_in.committed:
            self._lost(running.kept, bound)
            return
        async with self._store.transaction() as tx:
            kept = await tx.jobs.complete(job.id, owner=self.owner)
        self._lost(kept, bound)

    async def _reschedule(
        self,
        job: Job,
        job_type: JobType | None,
        wait: RetryLater,
        bound: structlog.BoundLogger,
    ) -> None:
        reason = self._scrub(wait.reason)
        async with self._store.transaction() as tx:
            kept = await tx.jobs.reschedule(
                job.id, owner=self.owner, run_at=wait.run_at, error=reason, count_attempt=False
            )
            if kept and job_type is not None and job_type.on_wait is not None:
                await job_type.on_wait(tx, job, wait.run_at, reason)
        self._lost(kept, bound)
        if kept and job_type is not None and job_type.on_wait is not None:
            self.wake()  # `on_wait` may have queued jobs (a card update)

    @staticmethod
    def _lost(kept: bool, bound: structlog.BoundLogger) -> None:
        if not kept:
            # Another worker took the job over after our lease ran out: its result stands.
            bound.warning("job_result_dropped", reason="lease taken over")

    async def _failed(
        self, job: Job, job_type: JobType, failure: JobFailed, bound: structlog.BoundLogger
    ) -> None:
        reason = self._scrub(failure.reason)
        delay = self._retry.delay(
            job.attempts, transient=failure.transient, retry_after=failure.retry_after
        )
        if delay is not None:
            bound.warning("job_retry_scheduled", reason=reason, delay=round(delay, 3))
            run_at = self._clock.now() + timedelta(seconds=delay)
            async with self._store.transaction() as tx:
                kept = await tx.jobs.reschedule(
                    job.id, owner=self.owner, run_at=run_at, error=reason
                )
                if kept and job_type.on_wait is not None:
                    await job_type.on_wait(tx, job, run_at, reason)
            self._lost(kept, bound)
            if kept and job_type.on_wait is not None:
                self.wake()  # `on_wait` may have queued jobs (a card update)
            return
        queue = job_type.dead_letter
        bound.error("job_dead", reason=reason, queue=queue)
        async with self._store.transaction() as tx:
            kept = await tx.jobs.bury(job.id, owner=self.owner, queue=queue, error=reason)
            if kept:
                await job_type.handler.on_dead(tx, job, reason)
        self._lost(kept, bound)
        # `on_dead` may have queued jobs (a card update, a notice).
        self.wake()
