"""The jobs package: durable work on the retry table (`retry_jobs`).

    queue.py     JobQueue: enqueue(kind, payload, run_at, key, after) inside a transaction
    worker.py    Worker: leases, renewals, concurrency (per kind where a type says so),
                 wake-ups, graceful stop
    retry.py     RetryPolicy: exponential backoff with jitter, the last run
    registry.py  JobType / JobTypes: each kind with its handler, dead-letter queue and label,
                 registered next to the code that does the work

A new kind of job: a handler (`run`, `on_dead`) next to its domain code, a `JobType` for it,
registered with the worker in `bot.runtime`; it is queued with `JobQueue.enqueue`. A handler
whose work ends in a transaction calls `finish_job(tx)` in it: one write instead of two.
"""

from __future__ import annotations

from services.errors import JobFailed, RetryLater
from services.jobs.queue import JobQueue
from services.jobs.registry import JobHandler, JobType, JobTypes
from services.jobs.retry import RetryPolicy, backoff_delay
from services.jobs.worker import Worker, finish_job
from storage import Transaction

__all__ = [
    "JobFailed",
    "JobHandler",
    "JobQueue",
    "JobType",
    "JobTypes",
    "RetryLater",
    "RetryPolicy",
    "Transaction",
    "Worker",
    "backoff_delay",
    "finish_job",
]
