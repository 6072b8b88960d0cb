"""The job types the worker knows: each kind registered next to its domain code.

A kind is registered by the code that does the work (`services.drafting.job`,
`services.platforms.publish`, `handlers.slack_out`), with its handler, the dead-letter queue
its jobs go to when they fail for good, and a label for people (App Home lists dead jobs by
it). Nothing else keeps a list of kinds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from storage import Transaction
from storage.models import Job


class JobHandler(Protocol):
    """Carries out the jobs of one kind."""

    async def run(self, job: Job) -> None:
        """Do the work: return when done; raise `RetryLater` (not now, no attempt spent) or
        `JobFailed` (this run failed); anything else is a bug, retried as transient."""

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        """Record, inside the dead-lettering transaction, that the job failed for good."""


WaitListener = Callable[[Transaction, Job, datetime, str], Awaitable[None]]
"""Hears, inside the rescheduling transaction, that a job waits until `run_at` for `reason`
(a backoff after a transient failure, or `RetryLater`)."""


@dataclass(frozen=True)
class JobType:
    """One kind of job: `name` (stored as the job's `kind`), its handler, the dead-letter
    queue it ends in, a label for people, at most how many may run at once in one worker
    (None: they share the worker's general room), who hears when one waits to run again
    (`on_wait`: the publish job shows "Retrying" on the card), and whether a job due at once
    starts as soon as the transaction that queued it commits (`starts_at_once`: someone
    watches for it, such as a card or a publish) rather than at the worker's next claim."""

    name: str
    handler: JobHandler
    dead_letter: str
    label: str
    concurrency: int | None = None
    on_wait: WaitListener | None = None
    starts_at_once: bool = False


class JobTypes:
    """The registry of job types, by name."""

    def __init__(self) -> None:
        self._types: dict[str, JobType] = {}

    def register(self, job_type: JobType) -> None:
        """Add a kind; a name registered twice is a bug."""
        if job_type.name in self._types:
            raise ValueError(f"job type {job_type.name!r} is registered already")
        self._types[job_type.name] = job_type

    def get(self, name: str) -> JobType | None:
        """The type named `name`, if registered."""
        return self._types.get(name)

    def label(self, name: str) -> str:
        """What people call jobs of this kind (the kind itself when unknown)."""
        job_type = self._types.get(name)
        return job_type.label if job_type else name

    def __iter__(self) -> Iterator[JobType]:
        return iter(self._types.values())
