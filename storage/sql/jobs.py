"""The persistent retry table (`retry_jobs`): the queue the jobs worker drains.

Keys: at most one queued job per key (a unique partial index says so) and at most one running
at a time. Whenever a job would become queued next to the queued job of its key (a new
enqueue, a retry, a revival, start-up recovery) the queued one absorbs it: it becomes due at
the earlier of the two times, takes over the jobs waiting for the absorbed one, and the
absorbed one is deleted.

Statements are built once per shape and run with bound parameters (see `storage.sql.posts`).
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Insert,
    RowMapping,
    Select,
    Update,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.sql.expression import FromClause

from storage.models import Job, JobStatus, NewJob
from storage.schema import UTCDateTime, retry_jobs
from storage.sql.dialect import upsert
from storage.sql.executor import Executor

_QUEUED = JobStatus.QUEUED.value
_RUNNING = JobStatus.RUNNING.value
_ID = retry_jobs.c.id


def _time(name: str) -> BindParameter[datetime]:
    return bindparam(name, type_=UTCDateTime())


def _job(row: RowMapping) -> Job:
    return Job.model_validate(dict(row))


def _earlier(first: ColumnElement[datetime], second: ColumnElement[datetime]) -> Any:
    """The earlier of two times (neither SQLite's min() nor PostgreSQL's least() is both)."""
    return case((first < second, first), else_=second)


def _claimable(job: FromClause, excluding: bool) -> ColumnElement[bool]:
    """Due at :now: queued and due, or running with an expired lease (and not :exclude)."""
    now = _time("now")
    condition = or_(
        and_(job.c.status == _QUEUED, job.c.next_attempt_at <= now),
        and_(job.c.status == _RUNNING, job.c.lease < now),
    )
    if excluding:
        return and_(condition, job.c.id.not_in(bindparam("exclude", expanding=True)))
    return condition


def _first_try_pending(job: FromClause) -> ColumnElement[bool]:
    """The job hasn't finished its first try: it runs, or waits without any attempt yet."""
    return or_(job.c.status == _RUNNING, and_(job.c.status == _QUEUED, job.c.attempts == 0))


def _not_held_back(job: FromClause, *, at_now: bool, excluding: bool) -> ColumnElement[bool]:
    """No other job of `job`'s key runs (or goes before it in this batch), and its
    `after_job_id` job has had its first try. Without `at_now`: whatever the leases say."""
    other = retry_jobs.alias("other")
    before = retry_jobs.alias("before")
    busy: ColumnElement[bool] = other.c.status == _RUNNING
    if at_now:
        live = other.c.lease >= _time("now")
        if excluding:
            live = or_(live, other.c.id.in_(bindparam("exclude", expanding=True)))
        busy = or_(
            and_(other.c.status == _RUNNING, live),
            # Two claimable jobs of one key: the older one goes first.
            and_(_claimable(other, excluding), other.c.id < job.c.id),
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


_GET = select(retry_jobs).where(bindparam("job_id") == _ID)
_FOR_POST = select(retry_jobs).where(retry_jobs.c.post_id == bindparam("post_id")).order_by(_ID)
_WITH_STATUS = (
    select(retry_jobs)
    .where(retry_jobs.c.status == bindparam("status"))
    .order_by(_ID.desc())
    .limit(bindparam("limit"))
)
_COUNTS = select(retry_jobs.c.kind, retry_jobs.c.status, func.count().label("n")).group_by(
    retry_jobs.c.kind, retry_jobs.c.status
)
_CANCEL = (
    delete(retry_jobs)
    .where(retry_jobs.c.key == bindparam("key"), retry_jobs.c.status == _QUEUED)
    .returning(_ID)
)
_OWNED = and_(
    bindparam("job_id") == _ID,
    retry_jobs.c.status == _RUNNING,
    retry_jobs.c.lease_owner == bindparam("owner"),
)
_RENEW = (
    update(retry_jobs)
    .where(
        _ID.in_(bindparam("job_ids", expanding=True)),
        retry_jobs.c.status == _RUNNING,
        retry_jobs.c.lease_owner == bindparam("owner"),
    )
    .values(lease=_time("lease"))
    .returning(_ID)
)
_QUEUED_FOR_KEY = select(_ID).where(
    retry_jobs.c.key == bindparam("key"),
    retry_jobs.c.status == _QUEUED,
    bindparam("job_id") != _ID,
)
_ABSORB_TIME = (
    update(retry_jobs)
    .where(bindparam("into") == _ID)
    .values(
        next_attempt_at=_earlier(_time("run_at"), retry_jobs.c.next_attempt_at),
        updated_at=_time("now"),
    )
)
_HAND_OVER_WAITERS = (
    update(retry_jobs)
    .where(retry_jobs.c.after_job_id == bindparam("absorbed"))
    .values(after_job_id=bindparam("into"))
)
_DELETE = delete(retry_jobs).where(bindparam("absorbed") == _ID)
_RUNNING_JOBS = select(_ID).where(retry_jobs.c.status == _RUNNING)
_PRUNE = (
    delete(retry_jobs)
    .where(retry_jobs.c.status == JobStatus.DONE.value, retry_jobs.c.updated_at < _time("before"))
    .returning(_ID)
)


@functools.cache
def _count(excepting: bool) -> Select[Any]:
    """How many jobs are in :status (leaving out those of the posts :except_posts)."""
    conditions = [retry_jobs.c.status == bindparam("status")]
    if excepting:
        conditions.append(
            or_(
                retry_jobs.c.post_id.is_(None),
                retry_jobs.c.post_id.not_in(bindparam("except_posts", expanding=True)),
            )
        )
    return select(func.count().label("n")).select_from(retry_jobs).where(*conditions)


@functools.cache
def _next_due(after: bool) -> Select[Any]:
    job = retry_jobs.alias("job")
    queued_conditions = [
        job.c.status == _QUEUED,
        _not_held_back(job, at_now=False, excluding=False),
    ]
    lease_conditions = [retry_jobs.c.status == _RUNNING]
    if after:
        queued_conditions.append(job.c.next_attempt_at > _time("after"))
        lease_conditions.append(retry_jobs.c.lease > _time("after"))
    queued = select(func.min(job.c.next_attempt_at)).where(*queued_conditions).scalar_subquery()
    leases = select(func.min(retry_jobs.c.lease)).where(*lease_conditions).scalar_subquery()
    return select(queued.label("queued"), leases.label("lease"))


@functools.cache
def _enqueue(dialect_name: str, keyed: bool) -> Insert:
    statement = upsert(dialect_name, retry_jobs)
    if keyed:
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
    return statement.returning(_ID)


@functools.cache
def _claim(excluding: bool, kinds: str | None) -> Update:
    """Lease up to :limit due jobs to :owner until :lease_until, in one statement; with
    `kinds` "only" or "except", only jobs whose kind is (or isn't) among :kinds."""
    job = retry_jobs.alias("job")
    conditions = [_claimable(job, excluding), _not_held_back(job, at_now=True, excluding=excluding)]
    if kinds == "only":
        conditions.append(job.c.kind.in_(bindparam("kinds", expanding=True)))
    elif kinds == "except":
        conditions.append(job.c.kind.not_in(bindparam("kinds", expanding=True)))
    due = (
        select(job.c.id)
        .where(*conditions)
        .order_by(job.c.next_attempt_at, job.c.id)
        .limit(bindparam("limit"))
        # PostgreSQL: claimers in other processes skip what this one is taking.
        .with_for_update(skip_locked=True)
    )
    return (
        update(retry_jobs)
        .where(_ID.in_(due))
        .values(
            status=_RUNNING,
            attempts=retry_jobs.c.attempts + 1,
            lease=_time("lease_until"),
            lease_owner=bindparam("owner"),
            updated_at=_time("stamp"),
        )
        .returning(*retry_jobs.c)
    )


@functools.cache
def _finish(status: JobStatus, columns: tuple[str, ...]) -> Update:
    """End the run :owner holds: the job leaves `running` for `status`, setting `columns`."""
    return (
        update(retry_jobs)
        .where(_OWNED)
        .values(
            status=status.value,
            lease=None,
            lease_owner=None,
            updated_at=_time("now"),
            **{name: bindparam(f"v_{name}") for name in columns},
        )
        .returning(_ID)
    )


@functools.cache
def _requeue(count_attempt: bool, columns: tuple[str, ...]) -> Update:
    """Queue job :job_id again for :run_at, setting `columns`."""
    values: dict[str, Any] = {name: bindparam(f"v_{name}") for name in columns}
    if not count_attempt:
        values["attempts"] = retry_jobs.c.attempts - 1
    return (
        update(retry_jobs)
        .where(bindparam("job_id") == _ID)
        .values(
            status=_QUEUED,
            next_attempt_at=_time("run_at"),
            lease=None,
            lease_owner=None,
            updated_at=_time("now"),
            **values,
        )
    )


_REQUEUE_SELECT: dict[str, Select[Any]] = {
    "owned": select(_ID, retry_jobs.c.key).where(_OWNED),
    "dead": select(_ID, retry_jobs.c.key).where(
        bindparam("job_id") == _ID, retry_jobs.c.status == JobStatus.DEAD.value
    ),
    "running": select(_ID, retry_jobs.c.key).where(
        bindparam("job_id") == _ID, retry_jobs.c.status == _RUNNING
    ),
}


class SqlJobs:
    """SQL for `retry_jobs`."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def _jobs(self, statement: Select[Any] | Update, **parameters: Any) -> list[Job]:
        return [_job(row) for row in await self._run.all(statement, parameters)]

    async def get(self, job_id: int) -> Job | None:
        """The job with this id."""
        found = await self._jobs(_GET, job_id=job_id)
        return found[0] if found else None

    async def for_post(self, post_id: str) -> list[Job]:
        """Every job of a post, oldest first."""
        return await self._jobs(_FOR_POST, post_id=post_id)

    async def with_status(self, status: JobStatus, *, limit: int = 50) -> list[Job]:
        """Jobs in `status`, newest first."""
        return await self._jobs(_WITH_STATUS, status=status.value, limit=limit)

    async def next_due_at(self, *, after: datetime | None = None) -> datetime | None:
        """The earliest due time of a queued job nothing holds back, or of a lease's end
        (only times later than `after`, if given)."""
        parameters = {} if after is None else {"after": after}
        (row,) = await self._run.all(_next_due(after is not None), parameters)
        times = [time for time in (row["queued"], row["lease"]) if time is not None]
        return min(times) if times else None

    async def counts(self) -> dict[tuple[str, str], int]:
        """How many jobs there are per (kind, status)."""
        rows = await self._run.all(_COUNTS)
        return {(row["kind"], row["status"]): row["n"] for row in rows}

    async def count(self, status: JobStatus, *, except_posts: Collection[str] = ()) -> int:
        """How many jobs are in `status`, without those of the posts `except_posts`."""
        parameters: dict[str, Any] = {"status": status.value}
        if except_posts:
            parameters["except_posts"] = list(except_posts)
        (row,) = await self._run.all(_count(bool(except_posts)), parameters)
        return int(row["n"])

    async def enqueue(self, job: NewJob) -> int:
        """Queue a job; the queued job of its key, if any, absorbs it."""
        now = self._run.now()
        (row,) = await self._run.all(
            _enqueue(self._run.dialect_name, job.key is not None),
            {
                "kind": job.kind,
                "post_id": job.post_id,
                "payload": job.payload,
                "attempts": 0,
                "next_attempt_at": job.run_at,
                "status": _QUEUED,
                "key": job.key,
                "after_job_id": job.after_job_id,
                "created_at": now,
                "updated_at": now,
            },
        )
        return int(row["id"])

    async def cancel(self, key: str) -> bool:
        """Delete the queued job with this key."""
        return bool(await self._run.all(_CANCEL, {"key": key}))

    async def claim_due(
        self,
        *,
        now: datetime,
        limit: int,
        lease: timedelta,
        owner: str,
        exclude: Collection[int] = (),
        kinds: Collection[str] | None = None,
        except_kinds: Collection[str] = (),
    ) -> list[Job]:
        """Lease up to `limit` due jobs to `owner`, in one statement."""
        parameters: dict[str, Any] = {
            "now": now,
            "limit": limit,
            "lease_until": now + lease,
            "owner": owner,
            "stamp": self._run.now(),
        }
        if exclude:
            parameters["exclude"] = list(exclude)
        filtering: str | None = None
        if kinds is not None:
            if not kinds:
                return []
            filtering, parameters["kinds"] = "only", list(kinds)
        elif except_kinds:
            filtering, parameters["kinds"] = "except", list(except_kinds)
        claimed = await self._jobs(_claim(bool(exclude), filtering), **parameters)
        return sorted(claimed, key=lambda claimed_job: claimed_job.id)

    async def renew(self, job_ids: Collection[int], *, owner: str, lease: timedelta) -> set[int]:
        """Extend the leases `owner` still holds."""
        if not job_ids:
            return set()
        rows = await self._run.all(
            _RENEW, {"job_ids": list(job_ids), "owner": owner, "lease": self._run.now() + lease}
        )
        return {int(row["id"]) for row in rows}

    async def _finish(self, job_id: int, owner: str, status: JobStatus, **values: Any) -> bool:
        parameters = {f"v_{name}": value for name, value in values.items()}
        parameters.update(job_id=job_id, owner=owner, now=self._run.now())
        return bool(await self._run.all(_finish(status, tuple(values)), parameters))

    async def complete(self, job_id: int, *, owner: str) -> bool:
        """The job did its work (if `owner` still holds it)."""
        return await self._finish(job_id, owner, JobStatus.DONE, last_error=None)

    async def bury(self, job_id: int, *, owner: str, queue: str, error: str) -> bool:
        """Move the job to its dead-letter queue (if `owner` still holds it)."""
        return await self._finish(job_id, owner, JobStatus.DEAD, queue=queue, last_error=error)

    async def _requeue(
        self,
        which: str,
        parameters: dict[str, Any],
        run_at: datetime,
        *,
        count_attempt: bool = True,
        **values: Any,
    ) -> bool:
        """Queue the job `which` selects again, or let its key's queued job absorb it."""
        rows = await self._run.all(_REQUEUE_SELECT[which], parameters)
        if not rows:
            return False
        job_id, key = int(rows[0]["id"]), rows[0]["key"]
        now = self._run.now()
        if key is not None:
            queued = await self._run.all(_QUEUED_FOR_KEY, {"key": key, "job_id": job_id})
            if queued:
                into = int(queued[0]["id"])
                await self._run.all(_ABSORB_TIME, {"into": into, "run_at": run_at, "now": now})
                await self._run.all(_HAND_OVER_WAITERS, {"absorbed": job_id, "into": into})
                await self._run.all(_DELETE, {"absorbed": job_id})
                return True
        statement = _requeue(count_attempt, tuple(values))
        arguments = {f"v_{name}": value for name, value in values.items()}
        arguments.update(job_id=job_id, run_at=run_at, now=now)
        await self._run.all(statement, arguments)
        return True

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
        values = {} if error is None else {"last_error": error}
        return await self._requeue(
            "owned",
            {"job_id": job_id, "owner": owner},
            run_at,
            count_attempt=count_attempt,
            **values,
        )

    async def revive(self, job_id: int, *, run_at: datetime) -> bool:
        """Run a dead job again from scratch."""
        return await self._requeue("dead", {"job_id": job_id}, run_at, queue=None, attempts=0)

    async def requeue_running(self, now: datetime) -> int:
        """Every running job is due again at `now`."""
        running = await self._run.all(_RUNNING_JOBS)
        for row in running:
            await self._requeue("running", {"job_id": row["id"]}, now)
        return len(running)

    async def prune_done(self, before: datetime) -> int:
        """Forget finished jobs last changed before `before`."""
        return len(await self._run.all(_PRUNE, {"before": before}))
