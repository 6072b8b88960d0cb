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
from datetime import UTC, datetime

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
from storage import Store
from storage.models import Job, Post, PostStatus

log = structlog.get_logger(__name__)

PUBLISH = "publish"
FAILURES_TO_OPEN = 3


async def queue_publish(
    queue: JobQueue, tx: Transaction, post_id: str, *, after: int | None
) -> int:
    """Publish the post, once the job `after` (its card update) has had its first try: the
    card says "Publishing..." first, and its retries never hold the publish back."""
    return await queue.enqueue(
        tx, PUBLISH, post_id=post_id, key=f"{PUBLISH}:{post_id}", after=after
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
    ) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._publishers = dict(publishers)
        self._circuits = Circuits(
            threshold=FAILURES_TO_OPEN,
            cooldown=cooldown,
            kind="platform",
            ignore=[PermanentPublishError],
            store=store,
        )

    def job_type(self) -> JobType:
        """The `publish` kind, for the worker's registry."""
        return JobType(name=PUBLISH, handler=self, dead_letter="dlq_publish", label="Publish")

    async def run(self, job: Job) -> None:
        """Publish the job's post unless it was published, discarded or is gone."""
        assert job.post_id is not None
        post = await self._store.posts.get(job.post_id)
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
            raise RetryLater(
                datetime.fromtimestamp(cooling.retry_at + 0.01, UTC),
                f"{post.platform} is failing; waiting for its cool-down",
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
            )

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        """The post failed for good: say why on its card (with Retry and Discard)."""
        post = await tx.posts.get(job.post_id) if job.post_id else None
        if post is not None and post.status == PostStatus.APPROVED:
            await self._lifecycle.move(tx, post, Action.PUBLISH_FAILED, failure_reason=reason)
