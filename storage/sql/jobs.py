"""The persistent retry table (`retry_jobs`): the queue the jobs worker drains.

Keys: at most one queued job per key (a unique partial index says so) and at most one running
at a time. Whenever a job would become queued next to the queued job of its key (a new
enqueue, a retry, a revival, start-up recovery) the queued one absorbs it: it becomes due at
the earlier of the two times, takes over the jobs waiting for the absorbed one, and the
absorbed one is deleted.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    RowMapping,
    and_,
    case,
    delete,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.sql.expression import FromClause

from storage.models import Job, JobStatus, NewJob
from storage.schema import retry_jobs
from storage.sql.dialect import upsert
from storage.sql.executor import Executor

_QUEUED = JobStatus.QUEUED.value
_RUNNING = JobStatus.RUNNING.value


def _job(row: RowMapping) -> Job:
    return Job.model_validate(dict(row))


def _earlier(first: ColumnElement[datetime], second: ColumnElement[datetime]) -> Any:
    """The earlier of two times (neither SQLite's min() nor PostgreSQL's least() is both)."""
    return case((first < second, first), else_=second)


def _claimable(job: FromClause, now: datetime, exclude: Collection[int]) -> ColumnElement[bool]:
    """Due now: queued and due, or running with an expired lease (and not `exclude`d)."""
    condition = or_(
        and_(job.c.status == _QUEUED, job.c.next_attempt_at <= now),
        and_(job.c.status == _RUNNING, job.c.lease < now),
    )
    return and_(condition, job.c.id.not_in(exclude)) if exclude else condition


def _first_try_pending(job: FromClause) -> ColumnElement[bool]:
    """The job hasn't finished its first try: it runs, or waits without any attempt yet."""
    return or_(job.c.status == _RUNNING, and_(job.c.status == _QUEUED, job.c.attempts == 0))


def _not_held_back(
    job: FromClause, now: datetime | None, exclude: Collection[int]
) -> ColumnElement[bool]:
    """No other job of `job`'s key runs (or goes before it in this batch), and its
    `after_job_id` job has had its first try. Without `now`: whatever the leases say."""
    other = retry_jobs.alias("other")
    before = retry_jobs.alias("before")
    busy: ColumnElement[bool] = other.c.status == _RUNNING
    if now is not None:
        live = (
            or_(other.c.lease >= now, other.c.id.in_(exclude)) if exclude else other.c.lease >= now
        )
        busy = or_(
            and_(other.c.status == _RUNNING, live),
            # Two claimable jobs of one key: the older one goes first.
            and_(_claimable(other, now, exclude), other.c.id < job.c.id),
        )
    return and_(
        or_(
            job.c.key.is_(None),
            not_(exists().where(other.c.key == job.c.key, other.c.id != job.c.id, busy)),
        ),
        or_(
            job.c.after_job_id.is_(None),
            not_(exists().where(before.c.id == job.c.after_job_id, _first_try_pending(before))),
        ),
    )


class SqlJobs:
    """SQL for `retry_jobs`."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def _jobs(self, statement: Any) -> list[Job]:
        return [_job(row) for row in await self._run.all(statement)]

    async def get(self, job_id: int) -> Job | None:
        """The job with this id."""
        found = await self._jobs(select(retry_jobs).where(retry_jobs.c.id == job_id))
        return found[0] if found else None

    async def for_post(self, post_id: str) -> list[Job]:
        """Every job of a post, oldest first."""
        return await self._jobs(
            select(retry_jobs).where(retry_jobs.c.post_id == post_id).order_by(retry_jobs.c.id)
        )

    async def with_status(self, status: JobStatus, *, limit: int = 50) -> list[Job]:
        """Jobs in `status`, newest first."""
        return await self._jobs(
            select(retry_jobs)
            .where(retry_jobs.c.status == status.value)
            .order_by(retry_jobs.c.id.desc())
            .limit(limit)
        )

    async def next_due_at(self) -> datetime | None:
        """The earliest due time of a queued job nothing holds back, or of a lease's end."""
        job = retry_jobs.alias("job")
        queued = (
            select(func.min(job.c.next_attempt_at))
            .where(job.c.status == _QUEUED, _not_held_back(job, None, ()))
            .scalar_subquery()
        )
        leases = (
            select(func.min(retry_jobs.c.lease))
            .where(retry_jobs.c.status == _RUNNING)
            .scalar_subquery()
        )
        (row,) = await self._run.all(select(queued.label("queued"), leases.label("lease")))
        times = [time for time in (row["queued"], row["lease"]) if time is not None]
        return min(times) if times else None

    async def counts(self) -> dict[tuple[str, str], int]:
        """How many jobs there are per (kind, status)."""
        rows = await self._run.all(
            select(retry_jobs.c.kind, retry_jobs.c.status, func.count().label("n")).group_by(
                retry_jobs.c.kind, retry_jobs.c.status
            )
        )
        return {(row["kind"], row["status"]): row["n"] for row in rows}

    async def enqueue(self, job: NewJob) -> int:
        """Queue a job; the queued job of its key, if any, absorbs it."""
        now = self._run.now()
        statement = upsert(self._run.dialect_name, retry_jobs).values(
            kind=job.kind,
            post_id=job.post_id,
            payload=job.payload,
            attempts=0,
            next_attempt_at=job.run_at,
            status=_QUEUED,
            key=job.key,
            after_job_id=job.after_job_id,
            created_at=now,
            updated_at=now,
        )
        if job.key is not None:
            statement = statement.on_conflict_do_update(
                index_elements=[retry_jobs.c.key],
                index_where=retry_jobs.c.status == _QUEUED,
                set_={
                    "next_attempt_at": _earlier(
                        statement.excluded.next_attempt_at, retry_jobs.c.next_attempt_at
                    ),
                    "updated_at": statement.excluded.updated_at,
                },
            )
        (row,) = await self._run.all(statement.returning(retry_jobs.c.id))
        return int(row["id"])

    async def cancel(self, key: str) -> bool:
        """Delete the queued job with this key."""
        deleted = await self._run.all(
            delete(retry_jobs)
            .where(retry_jobs.c.key == key, retry_jobs.c.status == _QUEUED)
            .returning(retry_jobs.c.id)
        )
        return bool(deleted)

    async def claim_due(
        self,
        *,
        now: datetime,
        limit: int,
        lease: timedelta,
        owner: str,
        exclude: Collection[int] = (),
    ) -> list[Job]:
        """Lease up to `limit` due jobs to `owner`, in one statement."""
        job = retry_jobs.alias("job")
        due = (
            select(job.c.id)
            .where(_claimable(job, now, exclude), _not_held_back(job, now, exclude))
            .order_by(job.c.next_attempt_at, job.c.id)
            .limit(limit)
            # PostgreSQL: claimers in other processes skip what this one is taking.
            .with_for_update(skip_locked=True)
        )
        claimed = await self._jobs(
            update(retry_jobs)
            .where(retry_jobs.c.id.in_(due))
            .values(
                status=_RUNNING,
                attempts=retry_jobs.c.attempts + 1,
                lease=now + lease,
                lease_owner=owner,
                updated_at=self._run.now(),
            )
            .returning(*retry_jobs.c)
        )
        return sorted(claimed, key=lambda claimed_job: claimed_job.id)

    def _owned(self, job_id: int, owner: str) -> ColumnElement[bool]:
        return and_(
            retry_jobs.c.id == job_id,
            retry_jobs.c.status == _RUNNING,
            retry_jobs.c.lease_owner == owner,
        )

    async def renew(self, job_ids: Collection[int], *, owner: str, lease: timedelta) -> set[int]:
        """Extend the leases `owner` still holds."""
        if not job_ids:
            return set()
        rows = await self._run.all(
            update(retry_jobs)
            .where(
                retry_jobs.c.id.in_(job_ids),
                retry_jobs.c.status == _RUNNING,
                retry_jobs.c.lease_owner == owner,
            )
            .values(lease=self._run.now() + lease)
            .returning(retry_jobs.c.id)
        )
        return {int(row["id"]) for row in rows}

    async def _finish(self, job_id: int, owner: str, status: JobStatus, **values: Any) -> bool:
        """End the run `owner` holds: the job leaves `running` for `status`."""
        rows = await self._run.all(
            update(retry_jobs)
            .where(self._owned(job_id, owner))
            .values(
                status=status.value,
                lease=None,
                lease_owner=None,
                updated_at=self._run.now(),
                **values,
            )
            .returning(retry_jobs.c.id)
        )
        return bool(rows)

    async def complete(self, job_id: int, *, owner: str) -> bool:
        """The job did its work (if `owner` still holds it)."""
        return await self._finish(job_id, owner, JobStatus.DONE, last_error=None)

    async def _queued_for_key(self, key: str | None, job_id: int) -> int | None:
        if key is None:
            return None
        rows = await self._run.all(
            select(retry_jobs.c.id).where(
                retry_jobs.c.key == key, retry_jobs.c.status == _QUEUED, retry_jobs.c.id != job_id
            )
        )
        return int(rows[0]["id"]) if rows else None

    async def _absorb(self, job_id: int, into: int, run_at: datetime) -> None:
        """The queued job `into` takes over job `job_id`: its due time and its waiters."""
        await self._run.all(
            update(retry_jobs)
            .where(retry_jobs.c.id == into)
            .values(
                next_attempt_at=_earlier(
                    literal(run_at, retry_jobs.c.next_attempt_at.type),
                    retry_jobs.c.next_attempt_at,
                ),
                updated_at=self._run.now(),
            )
        )
        await self._run.all(
            update(retry_jobs).where(retry_jobs.c.after_job_id == job_id).values(after_job_id=into)
        )
        await self._run.all(delete(retry_jobs).where(retry_jobs.c.id == job_id))

    async def _requeue(
        self, condition: ColumnElement[bool], run_at: datetime, **values: Any
    ) -> bool:
        """Queue the job matching `condition` again, or let its key's queued job absorb it."""
        rows = await self._matching(condition)
        if not rows:
            return False
        job_id, key = int(rows[0]["id"]), rows[0]["key"]
        into = await self._queued_for_key(key, job_id)
        if into is not None:
            await self._absorb(job_id, into, run_at)
            return True
        await self._run.all(
            update(retry_jobs)
            .where(retry_jobs.c.id == job_id)
            .values(
                status=_QUEUED,
                next_attempt_at=run_at,
                lease=None,
                lease_owner=None,
                updated_at=self._run.now(),
                **values,
            )
        )
        return True

    async def _matching(self, condition: ColumnElement[bool]) -> list[RowMapping]:
        return await self._run.all(select(retry_jobs.c.id, retry_jobs.c.key).where(condition))

    async def reschedule(
        self,
        job_id: int,
        *,
        owner: str,
        run_at: datetime,
        error: str | None,
        count_attempt: bool = True,
    ) -> bool:
        """Queue the job again for `run_at` (if `owner` still holds it)."""
        values: dict[str, Any] = {}
        if error is not None:
            values["last_error"] = error
        if not count_attempt:
            values["attempts"] = retry_jobs.c.attempts - 1
        return await self._requeue(self._owned(job_id, owner), run_at, **values)

    async def bury(self, job_id: int, *, owner: str, queue: str, error: str) -> bool:
        """Move the job to its dead-letter queue (if `owner` still holds it)."""
        return await self._finish(job_id, owner, JobStatus.DEAD, queue=queue, last_error=error)

    async def revive(self, job_id: int, *, run_at: datetime) -> bool:
        """Run a dead job again from scratch."""
        return await self._requeue(
            and_(retry_jobs.c.id == job_id, retry_jobs.c.status == JobStatus.DEAD.value),
            run_at,
            queue=None,
            attempts=0,
        )

    async def requeue_running(self, now: datetime) -> int:
        """Every running job is due again at `now`."""
        running = await self._matching(retry_jobs.c.status == _RUNNING)
        for row in running:
            await self._requeue(
                and_(retry_jobs.c.id == row["id"], retry_jobs.c.status == _RUNNING), now
            )
        return len(running)

    async def prune_done(self, before: datetime) -> int:
        """Forget finished jobs last changed before `before`."""
        deleted = await self._run.all(
            delete(retry_jobs)
            .where(retry_jobs.c.status == JobStatus.DONE.value, retry_jobs.c.updated_at < before)
            .returning(retry_jobs.c.id)
        )
        return len(deleted)
