"""The `publish` job: send an approved post to its platform, exactly once.

Approving (or retrying a failed publish) queues this job in the same transaction, behind the
first try of the card update that says "Publishing...". A post with an `external_id` is never
published again; the id is stored, with the `posted` status (and its card update), in the
transaction right after the platform answers. Each platform has a circuit breaker: after
`FAILURES_TO_OPEN` transient failures in a row its jobs wait out a cool-down (without spending
attempts) instead of hammering it. A publish that fails for good marks the post `failed_post`
with the reason, in the dead-lettering transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import structlog

from services.circuit import Circuits
from services.errors import (
    CircuitOpen,
    FailureReason,
    JobFailed,
    PermanentPublishError,
    RetryLater,
    TransientPublishError,
)
from services.jobs import JobQueue, JobType, Transaction
from services.lifecycle import Action, Lifecycle
from services.platforms import Publisher, thread_parts_async
from services.scheduling.rules import Punctuality, punctuality
from storage import Store
from storage.models import Job, Post, PostStatus

log = structlog.get_logger(__name__)

PUBLISH = "publish"
COOLDOWN = "cooldown"
FAILURES_TO_OPEN = 3


def publish_key(post_id: str) -> str:
    """The key of a post's publish job: one queued and one running at a time."""
    return f"{PUBLISH}:{post_id}"


async def queue_publish(
    queue: JobQueue,
    tx: Transaction,
    post_id: str,
    *,
    after: int | None,
    run_at: datetime | None = None,
) -> int:
    """Publish the post (at `run_at`, default now), once the job `after` (its card update) has
    had its first try: the card says "Publishing..." first, and its retries never hold the
    publish back. A publish already queued for the post absorbs this one and becomes due at
    the earlier of the two times (Post now on a scheduled post)."""
    return await queue.enqueue(
        tx, PUBLISH, post_id=post_id, key=publish_key(post_id), after=after, run_at=run_at
    )


def failure_text(reason: FailureReason, detail: str) -> str:
    """The failure as the card states it."""
    return f"{reason.value}: {detail}" if detail else reason.value


async def _progress(post: Post, checkpoints: StoredCheckpoints) -> str:
    """How far a thread got, for the failure text ('' for a single post)."""
    if not post.thread:
        return ""
    live = checkpoints.done("part:")
    total = len(await thread_parts_async(post.platform, post.message or ""))
    return f" ({live} of {total} posts are live; Retry continues with post {live + 1})"


class StoredCheckpoints:
    """A post's publishing steps, read once per run and saved as each one finishes."""

    def __init__(self, store: Store, post_id: str, done: dict[str, str]) -> None:
        self._store = store
        self._post_id = post_id
        self._done = dict(done)

    def get(self, step: str) -> str | None:
        """The platform's id for a finished step."""
        return self._done.get(step)

    def done(self, prefix: str) -> int:
        """How many finished steps start with `prefix` (e.g. thread parts)."""
        return sum(1 for step in self._done if step.startswith(prefix))

    async def save(self, step: str, external_id: str) -> None:
        """Commit a finished step at once: the next run must not repeat it."""
        async with self._store.transaction() as tx:
            await tx.posts.add_publish_step(self._post_id, step, external_id)
        self._done[step] = external_id


class Publishing:
    """Runs `publish` jobs."""

    def __init__(
        self,
        store: Store,
        lifecycle: Lifecycle,
        publishers: Mapping[str, Publisher],
        *,
        cooldown: float,
        grace: timedelta = timedelta(hours=1),
    ) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._publishers = dict(publishers)
        self._grace = grace
        self._circuits = Circuits(
            threshold=FAILURES_TO_OPEN,
            cooldown=cooldown,
            kind="platform",
            ignore=[PermanentPublishError],
            store=store,
        )

    def job_type(self) -> JobType:
        """The `publish` kind, for the worker's registry."""
        return JobType(
            name=PUBLISH,
            handler=self,
            dead_letter="dlq_publish",
            label="Publish",
            on_wait=self.on_wait,
            starts_at_once=True,
        )

    async def _start_scheduled(self, post: Post) -> Post | None:
        """A scheduled post whose time has come: approved now (on time, or late within
        SOCIALPOST_SCHEDULE_GRACE), or missed (later than that: not published). The post to
        publish, or None."""
        now = self._lifecycle.clock.now()
        scheduled_for = post.scheduled_for or now
        if scheduled_for > now:
            # Early (another process's clock, or a time moved later): wait for it.
            raise RetryLater(scheduled_for, "scheduled for later")
        when = punctuality(scheduled_for, now, self._grace)
        late_by = str(now - scheduled_for)
        async with self._lifecycle.transaction() as tx:
            if when == Punctuality.MISSED:
                await self._lifecycle.move(tx, post, Action.MISS)
                log.warning("scheduled_post_missed", post_id=post.id, late_by=late_by)
                return None
            moved = await self._lifecycle.move(tx, post, Action.DUE)
        if when == Punctuality.LATE:
            log.warning("scheduled_post_late", post_id=post.id, late_by=late_by)
        return moved.post if moved else None

    async def _trying_again(self, post: Post) -> None:
        """A try begins: the card stops saying "Retrying" (it says "Publishing...")."""
        async with self._lifecycle.transaction() as tx:
            updated = await tx.posts.update(
                post.id, only_if=[PostStatus.APPROVED], next_try_at=None, retry_reason=None
            )
            if updated is not None:
                await self._lifecycle.changed(tx, post.id)

    async def on_wait(self, tx: Transaction, job: Job, run_at: datetime, reason: str) -> None:
        """The publish waits for its next automatic try: the card says why and until when."""
        post = await tx.posts.get(job.post_id) if job.post_id else None
        if post is None or post.status != PostStatus.APPROVED:
            return  # a scheduled post waiting for its time is not retrying
        await tx.posts.update(
            post.id, only_if=[PostStatus.APPROVED], next_try_at=run_at, retry_reason=reason
        )
        await self._lifecycle.changed(tx, post.id)

    async def run(self, job: Job) -> None:
        """Publish the job's post unless it was published, discarded or is gone; a scheduled
        one once its time has come."""
        assert job.post_id is not None
        post = await self._store.posts.get(job.post_id)
        if post is not None and post.status == PostStatus.SCHEDULED:
            post = await self._start_scheduled(post)
        if post is not None and post.next_try_at is not None:
            await self._trying_again(post)
        if post is None or post.status != PostStatus.APPROVED:
            log.info("publish_skipped", post_id=job.post_id, status=post and post.status)
            return
        if post.external_id is not None:
            await self._mark_posted(post, post.external_id, post.external_url, post.dry_run)
            return
        publisher = self._publishers[post.platform]
        checkpoints = StoredCheckpoints(
            self._store, post.id, await self._store.posts.publish_steps(post.id)
        )
        try:
            async with self._circuits.guard(post.platform):
                result = await publisher.publish(post, checkpoints)
        except CircuitOpen as cooling:
            # "cooldown" is the reason the card puts in plain words (`Retrying: X ...`).
            raise RetryLater(
                datetime.fromtimestamp(cooling.retry_at + 0.01, UTC), COOLDOWN
            ) from None
        except TransientPublishError as exc:
            raise JobFailed(
                failure_text(exc.reason, exc.detail) + await _progress(post, checkpoints),
                transient=True,
                retry_after=exc.retry_after,
            ) from exc
        except PermanentPublishError as exc:
            raise JobFailed(
                failure_text(exc.reason, exc.detail) + await _progress(post, checkpoints),
                transient=False,
            ) from exc
        await self._mark_posted(post, result.external_id, result.url, result.dry_run)
        log.info("post_published", post_id=post.id, platform=post.platform, dry_run=result.dry_run)

    async def _mark_posted(
        self, post: Post, external_id: str, url: str | None, dry_run: bool
    ) -> None:
        async with self._lifecycle.transaction() as tx:
            await self._lifecycle.move(
                tx,
                post,
                Action.PUBLISHED,
                external_id=external_id,
                external_url=url,
                dry_run=dry_run,
                failure_reason=None,
                posted_at=self._lifecycle.clock.now(),
                next_try_at=None,
                retry_reason=None,
            )

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        """The post failed for good: say why on its card (with Retry and Discard)."""
        post = await tx.posts.get(job.post_id) if job.post_id else None
        if post is not None and post.status == PostStatus.APPROVED:
            await self._lifecycle.move(
                tx,
                post,
                Action.PUBLISH_FAILED,
                failure_reason=reason,
                next_try_at=None,
                retry_reason=None,
            )
