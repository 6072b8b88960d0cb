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
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from services.clock import Clock, SystemClock
from storage import Store, Transaction
from storage.models import NewJob


class JobQueue:
    """Puts jobs on the retry table and tells the worker when a commit queued some."""

    def __init__(self, store: Store, *, clock: Clock | None = None) -> None:
        self._store = store
        self.clock = clock or SystemClock()
        # Open transactions (by identity) -> whether they queued a job yet.
        self._open: dict[int, bool] = {}
        self._wakers: list[Callable[[], None]] = []

    def on_queued(self, wake: Callable[[], None]) -> None:
        """Call `wake()` after each commit that queued a job (the worker's wake-up)."""
        self._wakers.append(wake)

    def wake(self) -> None:
        """Tell the worker there may be due work (after a commit made outside `transaction`)."""
        for wake in self._wakers:
            wake()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """One store transaction; once it has committed, the worker is woken if it queued
        jobs."""
        queued = False
        async with self._store.transaction() as tx:
            self._open[id(tx)] = False
            try:
                yield tx
            finally:
                queued = self._open.pop(id(tx))
        if queued:
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
        job_id = await tx.jobs.enqueue(
            NewJob(
                kind=kind,
                post_id=post_id,
                payload=payload or {},
                run_at=run_at or self.clock.now(),
                key=key,
                after_job_id=after,
            )
        )
        if id(tx) in self._open:
            self._open[id(tx)] = True
        return job_id

    async def revive(self, tx: Transaction, job_id: int) -> bool:
        """Take a dead job out of its dead-letter queue and run it again from scratch, now;
        whether it was dead."""
        revived = await tx.jobs.revive(job_id, run_at=self.clock.now())
        if revived and id(tx) in self._open:
            self._open[id(tx)] = True
        return revived

    async def cancel(self, tx: Transaction, key: str) -> bool:
        """Cancel the queued job with this key; whether there was one."""
        return await tx.jobs.cancel(key)
