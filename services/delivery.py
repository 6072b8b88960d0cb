"""Slack-bound jobs: show a post's card, and send a private notice.

The card job reads the post when it runs, so one job shows the latest state however many
changes queued it. A card that could not be delivered for good marks a pending post
`failed_approval_send` and tells the requester (the notice may get through where the channel
post did not, e.g. when the bot isn't in the channel); a later Retry that delivers it returns
the post to `pending`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from services.notifier import DeliveryError, Notice, Notifier
from services.outbox import JobFailed, Outbox, RetryLater, enqueue_notice
from storage import Store, Transaction
from storage.models import Job, JobStatus, PostStatus

log = structlog.get_logger(__name__)


def _job_failed(exc: DeliveryError) -> JobFailed | RetryLater:
    if not exc.attempted:
        return RetryLater(time.time() + (exc.retry_after or 0.0), exc.reason)
    return JobFailed(exc.reason, transient=exc.transient, retry_after=exc.retry_after)


class CardJobs:
    """Runs `sync_card` jobs; `on_change` hears of every card shown (App Home refreshes)."""

    def __init__(
        self,
        store: Store,
        outbox: Outbox,
        notifier: Notifier,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._notifier = notifier
        self._on_change = on_change

    async def run(self, job: Job) -> None:
        """Render the post's current state on its card."""
        assert job.post_id is not None
        post = await self._store.posts.get(job.post_id)
        if post is None:
            return
        try:
            channel, ts = await self._notifier.show_card(post)
        except DeliveryError as exc:
            raise _job_failed(exc) from exc
        if (channel, ts) != (post.channel, post.message_ts):
            async with self._store.transaction() as tx:
                await tx.posts.update(post.id, channel=channel, message_ts=ts)
                await tx.posts.transition(
                    post.id, [PostStatus.FAILED_APPROVAL_SEND], PostStatus.PENDING
                )
        self._on_change()

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        """A card that never reached the channel: the post can't be approved; say so."""
        assert job.post_id is not None
        post = await tx.posts.get(job.post_id)
        if post is None or post.message_ts is not None:
            return
        if any(
            other.kind == job.kind and other.status == JobStatus.QUEUED
            for other in await tx.jobs.for_post(post.id)
        ):
            # A newer card update is already queued (the draft finished while this one ran):
            # it tries again, and its outcome decides.
            return
        failed = await tx.posts.transition(
            post.id,
            [PostStatus.PENDING],
            PostStatus.FAILED_APPROVAL_SEND,
            failure_reason=reason,
        )
        if failed is not None and post.requester:
            await enqueue_notice(tx, post.id, post.requester, Notice.CARD_UNDELIVERABLE, reason)
        self._on_change()


class NoticeJobs:
    """Runs `notify_user` jobs."""

    def __init__(self, store: Store, notifier: Notifier) -> None:
        self._store = store
        self._notifier = notifier

    async def run(self, job: Job) -> None:
        """Send the notice."""
        post = await self._store.posts.get(job.post_id) if job.post_id else None
        try:
            await self._notifier.send_notice(
                str(job.payload["user"]),
                Notice(job.payload["notice"]),
                post,
                job.payload.get("detail"),
            )
        except DeliveryError as exc:
            raise _job_failed(exc) from exc

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        """Nothing more to do: the job stays in the dead-letter queue for a person to see."""
        log.error("notice_undeliverable", user=job.payload.get("user"), reason=reason)
