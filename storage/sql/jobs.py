"""The persistent retry table (`retry_jobs`): the queue the jobs worker drains.

Keys: at most one queued job per key and at most one running (two unique partial indexes say
so, so even processes racing on a shared database can't break it). A queued job waits while a
job of its key runs (whatever that one's lease says: a running job whose lease expired is
taken over, it stays the one running). Whenever a job would become queued next to the queued
job of its key (a new enqueue, a retry, a revival, recovery) the queued one absorbs it: it
becomes due at the earlier of the two times, takes over the jobs waiting for the absorbed one,
and the absorbed one is deleted.

Concurrency on a shared database (PostgreSQL, READ COMMITTED): the claim is one statement
(`FOR UPDATE SKIP LOCKED`: concurrent claimers skip each other's rows); finishing a run is one
UPDATE fenced by the lease owner; queueing a job again first locks its row (`FOR UPDATE`), so
a takeover can't slip in between. Leases live on the database's clock (`storage.sql.dialect`).

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
    text,
    type_coerce,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.expression import FromClause

from storage.models import Job, JobStatus, NewJob
from storage.schema import retry_jobs
from storage.sql.dialect import (
    lease_now,
    lease_parameters,
    lease_until,
    notify_jobs,
    time_parameter,
    upsert,
)
from storage.sql.executor import Executor

_QUEUED = JobStatus.QUEUED.value
_RUNNING = JobStatus.RUNNING.value
_ID = retry_jobs.c.id


def _time(name: str) -> BindParameter[datetime]:
    return time_parameter(name)


def _job(row: RowMapping) -> Job:
    return Job.model_validate(dict(row))


def _earlier(first: ColumnElement[datetime], second: ColumnElement[datetime]) -> Any:
    """The earlier of two times (neither SQLite's min() nor PostgreSQL's least() is both)."""
    return case((first < second, first), else_=second)


def _claimable(job: FromClause, dialect_name: str, excluding: bool) -> ColumnElement[bool]:
    """Queued and due at :now, or running with a lease that ended (on the lease clock); and
    not in :exclude."""
    condition = or_(
        and_(job.c.status == _QUEUED, job.c.next_attempt_at <= _time("now")),
        and_(job.c.status == _RUNNING, job.c.lease < lease_now(dialect_name)),
    )
    if excluding:
        return and_(condition, job.c.id.not_in(bindparam("exclude", expanding=True)))
    return condition


def _first_try_pending(job: FromClause) -> ColumnElement[bool]:
    """The job hasn't finished its first try: it runs, or waits without any attempt yet."""
    return or_(job.c.status == _RUNNING, and_(job.c.status == _QUEUED, job.c.attempts == 0))


def _not_held_back(job: FromClause) -> ColumnElement[bool]:
    """No other job of `job`'s key runs, and its `after_job_id` job has had its first try."""
    other = retry_jobs.alias("other")
    before = retry_jobs.alias("before")
    return and_(
        or_(
            job.c.key.is_(None),
            not_(
                exists().where(
                    other.c.key == job.c.key, other.c.id != job.c.id, other.c.status == _RUNNING
                )
            ),
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
# The queued job of :c_key (other than :job_id) absorbs a job due at :run_at.
_ABSORB = (
    update(retry_jobs)
    .where(
        retry_jobs.c.key == bindparam("c_key"),
        retry_jobs.c.status == _QUEUED,
        bindparam("job_id") != _ID,
    )
    .values(
        next_attempt_at=_earlier(_time("run_at"), retry_jobs.c.next_attempt_at),
        updated_at=_time("now"),
    )
    .returning(_ID)
)
_HAND_OVER_WAITERS = (
    update(retry_jobs)
    .where(retry_jobs.c.after_job_id == bindparam("absorbed"))
    .values(after_job_id=bindparam("into"))
)
_DELETE = delete(retry_jobs).where(bindparam("absorbed") == _ID)
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
    queued_conditions = [job.c.status == _QUEUED, _not_held_back(job)]
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
            # Written out, not a bound parameter: PostgreSQL matches the partial index by its
            # predicate when it plans, and a generic plan (a prepared statement's sixth run
            # on) knows no parameter values.
            index_where=text(f"status = '{_QUEUED}'"),
            set_={
                "next_attempt_at": _earlier(
                    statement.excluded.next_attempt_at, retry_jobs.c.next_attempt_at
                ),
                "updated_at": statement.excluded.updated_at,
            },
        )
    return statement.returning(_ID)


_LEASED_COLUMNS = (
    "kind",
    "post_id",
    "payload",
    "attempts",
    "next_attempt_at",
    "lease",
    "lease_owner",
    "status",
    "key",
    "created_at",
    "updated_at",
)


@functools.cache
def _enqueue_leased(dialect_name: str, keyed: bool) -> Insert:
    """Insert a job due now that is already running, leased to :owner until the lease clock
    plus the lease; keyed, only while no job of :key is queued or running (else nothing)."""
    values = {
        "kind": bindparam("kind"),
        "post_id": bindparam("post_id"),
        "payload": bindparam("payload", type_=retry_jobs.c.payload.type),
        "attempts": 1,
        "next_attempt_at": _time("now"),
        "lease": lease_until(dialect_name),
        "lease_owner": bindparam("owner"),
        "status": _RUNNING,
        "key": bindparam("key"),
        "created_at": _time("now"),
        "updated_at": _time("now"),
    }
    statement = upsert(dialect_name, retry_jobs)
    if not keyed:
        return statement.values(values).returning(*retry_jobs.c)
    other = retry_jobs.alias("other")
    rows = select(*[type_coerce(values[name], retry_jobs.c[name].type) for name in _LEASED_COLUMNS])
    rows = rows.where(
        not_(
            exists().where(other.c.key == bindparam("key"), other.c.status.in_([_QUEUED, _RUNNING]))
        )
    )
    # PostgreSQL: a concurrent transaction may be inserting a running job of the key too;
    # the unique index on running keys then makes this insert nothing. (The other way round,
    # a claim moving a job of the key to running while this row is uncommitted fails on that
    # index, and the worker claims again a second later: rare, as both need the same key
    # from two processes within one transaction's time.)
    return (
        statement.from_select(list(_LEASED_COLUMNS), rows)
        .on_conflict_do_nothing(
            index_elements=[retry_jobs.c.key], index_where=text(f"status = '{_RUNNING}'")
        )
        .returning(*retry_jobs.c)
    )


@functools.cache
def _claim(dialect_name: str, excluding: bool, kinds: str | None) -> Update:
    """Lease up to :limit due jobs to :owner, in one statement; with `kinds` "only" or
    "except", only jobs whose kind is (or isn't) among :kinds."""
    job = retry_jobs.alias("job")
    conditions = [_claimable(job, dialect_name, excluding), _not_held_back(job)]
    if kinds == "only":
        conditions.append(job.c.kind.in_(bindparam("kinds", expanding=True)))
    elif kinds == "except":
        conditions.append(job.c.kind.not_in(bindparam("kinds", expanding=True)))
    due = (
        select(job.c.id)
        .where(*conditions)
        .order_by(job.c.next_attempt_at, job.c.id)
        .limit(bindparam("limit"))
        # PostgreSQL: claimers in other processes skip the rows this one is taking (and a
        # row another claimer changed meanwhile is checked again before it is taken).
        .with_for_update(skip_locked=True)
    )
    return (
        update(retry_jobs)
        .where(_ID.in_(due))
        .values(
            status=_RUNNING,
            attempts=retry_jobs.c.attempts + 1,
            lease=lease_until(dialect_name),
            lease_owner=bindparam("owner"),
            updated_at=_time("stamp"),
        )
        .returning(*retry_jobs.c)
    )


@functools.cache
def _renew(dialect_name: str) -> Update:
    """Extend the leases :owner holds among :job_ids."""
    return (
        update(retry_jobs)
        .where(
            _ID.in_(bindparam("job_ids", expanding=True)),
            retry_jobs.c.status == _RUNNING,
            retry_jobs.c.lease_owner == bindparam("owner"),
        )
        .values(lease=lease_until(dialect_name))
        .returning(_ID)
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


def _orphaned(dialect_name: str) -> ColumnElement[bool]:
    """A running job whose process is known to be gone: every one on SQLite (the file lock
    proves it), one whose lease ended on a shared database (its process may be alive yet)."""
    if dialect_name == "sqlite":
        return retry_jobs.c.status == _RUNNING
    return and_(retry_jobs.c.status == _RUNNING, retry_jobs.c.lease < lease_now(dialect_name))


@functools.cache
def _orphans(dialect_name: str) -> Select[Any]:
    """The orphaned running jobs (`requeue_running`)."""
    return select(_ID).where(_orphaned(dialect_name)).order_by(_ID)


@functools.cache
def _requeue_select(which: str, dialect_name: str) -> Select[Any]:
    """Job :job_id if it may be queued again by who asks (its lease owner, a revival,
    recovery), locked until the transaction ends (PostgreSQL): a claimer can't take it over
    between this check and the requeue."""
    condition = {
        "owned": _OWNED,
        "dead": retry_jobs.c.status == JobStatus.DEAD.value,
        "orphaned": _orphaned(dialect_name),
    }[which]
    return (
        select(_ID, retry_jobs.c.key).where(bindparam("job_id") == _ID, condition).with_for_update()
    )


@functools.cache
def _requeue(count_attempt: bool, columns: tuple[str, ...]) -> Update:
    """Queue job :job_id (locked by `_requeue_select`) again for :run_at, setting `columns`."""
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


class SqlJobs:
    """SQL for `retry_jobs`."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def _jobs(self, statement: Select[Any] | Update | Insert, **parameters: Any) -> list[Job]:
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
        await self._queued()
        return int(row["id"])

    async def enqueue_leased(self, job: NewJob, *, owner: str, lease: timedelta) -> Job | None:
        """Queue a job due now as already running, leased to `owner` (whose worker starts it
        once this transaction commits, without claiming it); None, writing nothing, when a job
        of its key is queued or running (it is then queued as usual)."""
        dialect_name = self._run.dialect_name
        now = self._run.now()
        rows = await self._jobs(
            _enqueue_leased(dialect_name, job.key is not None),
            **{**lease_parameters(dialect_name, now, lease), "now": now},
            kind=job.kind,
            post_id=job.post_id,
            payload=job.payload,
            owner=owner,
            key=job.key,
        )
        if not rows:
            return None
        if notify_jobs(dialect_name) is not None:
            # Other processes sleep until the next due job or lease end they know of: told
            # of this lease, one takes the job over as soon as it ends if this process dies.
            await self._queued()
        return rows[0]

    async def _queued(self) -> None:
        """This transaction queued work: wake the workers once it commits (every process's
        on PostgreSQL, through NOTIFY; this process's own on any backend)."""
        if self._run.note_jobs_queued():
            statement = notify_jobs(self._run.dialect_name)
            if statement is not None:
                await self._run.all(statement)

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
        dialect_name = self._run.dialect_name
        parameters: dict[str, Any] = {
            **lease_parameters(dialect_name, now, lease),
            "now": now,
            "limit": limit,
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
        claimed = await self._jobs(_claim(dialect_name, bool(exclude), filtering), **parameters)
        return sorted(claimed, key=lambda claimed_job: claimed_job.id)

    async def renew(self, job_ids: Collection[int], *, owner: str, lease: timedelta) -> set[int]:
        """Extend the leases `owner` still holds."""
        if not job_ids:
            return set()
        dialect_name = self._run.dialect_name
        parameters = lease_parameters(dialect_name, self._run.now(), lease)
        parameters.update(job_ids=list(job_ids), owner=owner)
        rows = await self._run.all(_renew(dialect_name), parameters)
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
        rows = await self._run.all(_requeue_select(which, self._run.dialect_name), parameters)
        if not rows:
            return False
        job_id, key = int(rows[0]["id"]), rows[0]["key"]
        now = self._run.now()
        if key is None or not await self._absorbed(job_id, key, run_at, now):
            statement = _requeue(count_attempt, tuple(values))
            arguments = {f"v_{name}": value for name, value in values.items()}
            arguments.update(job_id=job_id, run_at=run_at, now=now)
            try:
                async with self._run.savepoint():
                    await self._run.all(statement, arguments)
            except IntegrityError:
                # Another process queued a job of this key since we looked (a shared
                # database): that one absorbs this one after all.
                if key is None or not await self._absorbed(job_id, key, run_at, now):
                    raise
        await self._queued()
        return True

    async def _absorbed(self, job_id: int, key: str, run_at: datetime, now: datetime) -> bool:
        """Let the queued job of `key`, if there is one, absorb job `job_id`."""
        into = await self._run.all(
            _ABSORB, {"c_key": key, "job_id": job_id, "run_at": run_at, "now": now}
        )
        if not into:
            return False
        await self._run.all(_HAND_OVER_WAITERS, {"absorbed": job_id, "into": into[0]["id"]})
        await self._run.all(_DELETE, {"absorbed": job_id})
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
        """Every running job whose process is known to be gone is due again at `now`."""
        orphans = await self._run.all(_orphans(self._run.dialect_name))
        requeued = 0
        for row in orphans:
            requeued += await self._requeue("orphaned", {"job_id": row["id"]}, now)
        return requeued

    async def prune_done(self, before: datetime) -> int:
        """Forget finished jobs last changed before `before`."""
        return len(await self._run.all(_PRUNE, {"before": before}))
