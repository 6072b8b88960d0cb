"""Queueing jobs: the one way work is put on the retry table (`retry_jobs`).

    async with queue.transaction() as tx:         # a store transaction that wakes the worker
        await tx.posts...                          # the state change ...
        await queue.enqueue(tx, "publish", post_id=post_id, key=f"publish:{post_id}")
                                                   # ... and the job that carries it out

A job is written in the same transaction as the change it carries out, so a crash keeps both or
neither. `run_at` (default: now, by the clock) is when it is due; a `key` keeps at most one
queued job per key (a second is absorbed by the first, which becomes due at the earlier time)
and one running at a time; `after` makes it wait for another job's first try. Once a
transaction that queued something commits, the worker is woken: it claims due work at once
instead of at its next look.

A job due at once, queued in `transaction()` while this process's worker has room for its
kind, is written already leased to that worker (`Store.jobs.enqueue_leased`), which starts it
as soon as the transaction commits: no claim, so no wait for the next write turn. A card is
posted right after its request is stored, a publish starts right after its approval. If
the process dies first, the lease runs out and the job is recovered like any other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.clock import Clock, SystemClock
from storage import Store, Transaction
from storage.models import Job, NewJob


class LocalRunner(Protocol):
    """This process's worker, as far as starting jobs queued here without a claim goes."""

    @property
    def owner(self) -> str:
        """Whom a job is leased to."""

    @property
    def lease_length(self) -> timedelta:
        """How long a lease lasts before it must be renewed."""

    def reserve(self, kind: str) -> str | None:
        """Keep room for a job of `kind` (the room's name), or None when there is none."""

    def release(self, room: str) -> None:
        """Give back a reservation whose job was not written (or rolled back)."""

    def adopt(self, job: Job, room: str) -> None:
        """Run `job`, leased to this worker by a transaction that has committed, in the
        room reserved for it."""


@dataclass
class _Open:
    """What an open transaction has queued: whether any job for the worker to claim, and the
    jobs leased to this process's worker with their rooms."""

    queued: bool = False
    leased: list[tuple[Job, str]] = field(default_factory=list)


class JobQueue:
    """Puts jobs on the retry table and tells the worker when a commit queued some."""

    def __init__(self, store: Store, *, clock: Clock | None = None) -> None:
        self._store = store
        self.clock = clock or SystemClock()
        # Open transactions (by identity) -> what they queued so far.
        self._open: dict[int, _Open] = {}
        self._wakers: list[Callable[[], None]] = []
        self._runner: LocalRunner | None = None

    def on_queued(self, wake: Callable[[], None]) -> None:
        """Call `wake()` after each commit that queued a job (the worker's wake-up)."""
        self._wakers.append(wake)

    def run_here(self, runner: LocalRunner) -> None:
        """Lease jobs due at once to `runner` as they are queued (the worker, as it starts)."""
        self._runner = runner

    def wake(self) -> None:
        """Tell the worker there may be due work (after a commit made outside `transaction`)."""
        for wake in self._wakers:
            wake()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """One store transaction; once it has committed, the jobs it leased to this process's
        worker start, and the worker is woken if it queued others."""
        opened = _Open()
        try:
            async with self._store.transaction() as tx:
                self._open[id(tx)] = opened
                try:
                    yield tx
                finally:
                    del self._open[id(tx)]
        except BaseException:
            # Rolled back (or cancelled as it committed: then the jobs are written but not
            # started here; their lease runs out and a claim recovers them, like a crash's).
            if self._runner is not None and opened.leased:
                for _, room in opened.leased:
                    self._runner.release(room)
                self.wake()  # the rooms given back may let waiting jobs go
            raise
        if self._runner is not None:
            for job, room in opened.leased:
                self._runner.adopt(job, room)
        if opened.queued:
            self.wake()

    async def enqueue(
        self,
        tx: Transaction,
        kind: str,
        *,
        post_id: str | None = None,
        payload: dict[str, Any] | None = None,
        run_at: datetime | None = None,
        key: str | None = None,
        after: int | None = None,
    ) -> int:
        """Queue a job of `kind` inside `tx`; returns its id (that of the queued job of its
        `key` when one absorbs it)."""
        now = self.clock.now()
        job = NewJob(
            kind=kind,
            post_id=post_id,
            payload=payload or {},
            run_at=run_at or now,
            key=key,
            after_job_id=after,
        )
        opened = self._open.get(id(tx))
        if opened is not None and after is None and job.run_at <= now:
            leased = await self._lease_here(tx, opened, job)
            if leased is not None:
                return leased
        job_id = await tx.jobs.enqueue(job)
        if opened is not None:
            opened.queued = True
        return job_id

    async def _lease_here(self, tx: Transaction, opened: _Open, job: NewJob) -> int | None:
        """Write `job` leased to this process's worker if it has room for it (its id), else
        None."""
        runner = self._runner
        if runner is None or (room := runner.reserve(job.kind)) is None:
            return None
        try:
            leased = await tx.jobs.enqueue_leased(
                job, owner=runner.owner, lease=runner.lease_length
            )
        except BaseException:
            runner.release(room)
            raise
        if leased is None:
            runner.release(room)
            return None
        opened.leased.append((leased, room))
        return leased.id

    async def revive(self, tx: Transaction, job_id: int) -> bool:
        """Take a dead job out of its dead-letter queue and run it again from scratch, now;
        whether it was dead."""
        revived = await tx.jobs.revive(job_id, run_at=self.clock.now())
        if revived and id(tx) in self._open:
            self._open[id(tx)].queued = True
        return revived

    async def cancel(self, tx: Transaction, key: str) -> bool:
        """Cancel the queued job with this key; whether there was one."""
        return await tx.jobs.cancel(key)
