"""Approval deadlines: one reminder, then expiry, for a draft nobody decides on.

A draft starts waiting for a decision when it becomes pending (drafted, unscheduled,
revived); an edit or a new card leaves its wait running. The `PostChanged` listener notes
when the wait began (`awaiting_since`) and queues the `remind` and `expire` jobs for their
times (SOCIALPOST_APPROVAL_REMINDER, SOCIALPOST_APPROVAL_TTL; 0 = off) in the transaction of
the change; when the post stops waiting, it clears the wait and cancels them. Each job checks
again when it runs (the post may have moved, or started a new wait) and does nothing, or waits
for the new time, when it is not due.

The reminder is one reply in the card's thread naming the approvers (a `TellUser` notice the
Slack layer turns into that reply); expiry is the lifecycle's `pending -> expired`.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from services.clock import Clock
from services.errors import RetryLater
from services.events import EventBus, Notice, PostChanged, TellUser
from services.jobs import JobQueue, JobType, Transaction
from services.lifecycle import Action, Lifecycle
from services.scheduling.rules import deadlines
from storage import Store
from storage.models import Job, Post, PostStatus

log = structlog.get_logger(__name__)

REMIND = "remind"
EXPIRE = "expire"


def _key(kind: str, post_id: str) -> str:
    return f"{kind}:{post_id}"


class Deadlines:
    """Reminders and expiry of pending drafts: the listener, and the `remind` and `expire`
    job kinds."""

    def __init__(
        self,
        store: Store,
        lifecycle: Lifecycle,
        queue: JobQueue,
        events: EventBus,
        *,
        approvers: tuple[str, ...],
        reminder: timedelta | None,
        ttl: timedelta | None,
        clock: Clock,
    ) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._queue = queue
        self._events = events
        self._approvers = approvers
        self._reminder = reminder
        self._ttl = ttl
        self._clock = clock

    def attach(self, events: EventBus) -> None:
        """Follow every post's changes (after the Slack layer: a move's first queued job
        stays its card update)."""
        events.subscribe(PostChanged, self.on_post_changed)

    def job_types(self) -> list[JobType]:
        """The `remind` and `expire` kinds, for the worker's registry."""
        return [
            JobType(
                name=REMIND,
                handler=_Remind(self),
                dead_letter="dlq_deadlines",
                label="Approval reminder",
            ),
            JobType(
                name=EXPIRE, handler=_Expire(self), dead_letter="dlq_deadlines", label="Expiry"
            ),
        ]

    async def on_post_changed(self, tx: Transaction, event: PostChanged) -> None:
        """Start the post's wait when it becomes pending; end it when it stops being so."""
        if event.new:
            return  # a new post drafts first: it has no wait yet
        post = await tx.posts.get(event.post_id)
        if post is None:
            return
        if post.status == PostStatus.PENDING and post.awaiting_since is None:
            now = self._clock.now()
            await tx.posts.update(
                post.id, only_if=[PostStatus.PENDING], awaiting_since=now, reminded_at=None
            )
            due = deadlines(now, self._reminder, self._ttl)
            if due.remind_at is not None:
                await self._queue.enqueue(
                    tx, REMIND, post_id=post.id, run_at=due.remind_at, key=_key(REMIND, post.id)
                )
            if due.expire_at is not None:
                await self._queue.enqueue(
                    tx, EXPIRE, post_id=post.id, run_at=due.expire_at, key=_key(EXPIRE, post.id)
                )
        elif post.status != PostStatus.PENDING and post.awaiting_since is not None:
            await tx.posts.update(post.id, awaiting_since=None)
            for kind in (REMIND, EXPIRE):
                await self._queue.cancel(tx, _key(kind, post.id))

    async def _waiting(self, job: Job, wait: timedelta | None) -> Post | None:
        """The job's post if it still waits and its deadline (`wait` after the wait began)
        has come; `RetryLater` until then."""
        post = await self._store.posts.get(job.post_id) if job.post_id else None
        if post is None or post.status != PostStatus.PENDING or post.awaiting_since is None:
            return None
        if wait is None:
            return None  # turned off since the job was queued
        due = post.awaiting_since + wait
        if due > self._clock.now():
            raise RetryLater(due, "not due yet: the draft started waiting again")
        return post

    async def remind(self, job: Job) -> None:
        """One reply in the card's thread naming the approvers, once per wait."""
        post = await self._waiting(job, self._reminder)
        if post is None or post.reminded_at is not None:
            return
        async with self._lifecycle.transaction() as tx:
            marked = await tx.posts.update(
                post.id,
                only_if=[PostStatus.PENDING],
                version=None,
                reminded_at=self._clock.now(),
            )
            if marked is None or marked.awaiting_since != post.awaiting_since:
                return
            assert post.awaiting_since is not None
            detail = " ".join([post.awaiting_since.isoformat(), *self._approvers])
            await self._events.emit(
                tx,
                TellUser(
                    user=post.requester or "",
                    notice=Notice.APPROVAL_REMINDER,
                    post_id=post.id,
                    detail=detail,
                ),
            )
        log.info("approval_reminder_queued", post_id=post.id)

    async def expire(self, job: Job) -> None:
        """A draft still pending at its deadline expires (nothing is published)."""
        post = await self._waiting(job, self._ttl)
        if post is None:
            return
        async with self._lifecycle.transaction() as tx:
            moved = await self._lifecycle.move(tx, post, Action.EXPIRE)
        if moved is not None:
            log.info("post_expired", post_id=post.id)


class _Remind:
    """Runs `remind` jobs."""

    def __init__(self, deadlines: Deadlines) -> None:
        self._deadlines = deadlines

    async def run(self, job: Job) -> None:
        """Remind the approvers, if the draft still waits."""
        await self._deadlines.remind(job)

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        """A reminder that can't be queued is only a reminder: logged."""
        log.error("approval_reminder_failed", post_id=job.post_id, reason=reason)


class _Expire:
    """Runs `expire` jobs."""

    def __init__(self, deadlines: Deadlines) -> None:
        self._deadlines = deadlines

    async def run(self, job: Job) -> None:
        """Expire the draft, if it still waits."""
        await self._deadlines.expire(job)

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        """The draft stays pending (a person can still decide); logged."""
        log.error("expiry_failed", post_id=job.post_id, reason=reason)
