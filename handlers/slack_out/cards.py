"""The `sync_card`, `notify_user` and `notify_channel` jobs: a post's card, private notices,
and messages to the approvers, sent to Slack.

A changed post (`PostChanged`) queues one card job per post key: the job reads the post when it
runs, so one job shows the latest state however many changes queued it, and at most one runs
per post at a time. A `TellUser` queues a notice (a direct message), a `TellChannel` a
message in the approval channel (ideas runs, the budget warning). A card that could not be
delivered for good is reported to the domain (`Cards.undeliverable`): the post can't be
approved, and its requester is told.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import structlog

from handlers.blocks.markup import is_slack_user
from handlers.slack_out.delivery import DeliveryError, SlackDelivery
from services.cards import Cards
from services.clock import Clock
from services.events import ChannelNotice, Notice, PostChanged, TellChannel, TellUser
from services.jobs import JobFailed, JobQueue, JobType, RetryLater, Transaction
from services.models import Job

log = structlog.get_logger(__name__)

SYNC_CARD = "sync_card"
NOTIFY_USER = "notify_user"
NOTIFY_CHANNEL = "notify_channel"
DEAD_LETTER = "dlq_slack"
# Card jobs have a room of their own, bigger than the worker's shared one: a card job mostly
# waits (on Slack, then for its write turn to record where the card is), and a burst of
# requests must each get its card at once. Measured: with the shared room (16), 20 API
# clients at once saw placeholder cards at p99 1.3 s instead of ~0.45 s.
CARD_JOBS_AT_ONCE = 64


def _job_failed(exc: DeliveryError, clock: Clock) -> JobFailed | RetryLater:
    if not exc.attempted:
        return RetryLater(clock.now() + timedelta(seconds=exc.retry_after or 0.0), exc.reason)
    return JobFailed(exc.reason, transient=exc.transient, retry_after=exc.retry_after)


async def queue_card(queue: JobQueue, tx: Transaction, event: PostChanged) -> int:
    """Show the post's current state on its card (posting the card if it has none); an
    already queued update of the post absorbs this one."""
    return await queue.enqueue(
        tx, SYNC_CARD, post_id=event.post_id, key=f"{SYNC_CARD}:{event.post_id}"
    )


async def queue_notice(queue: JobQueue, tx: Transaction, event: TellUser) -> int | None:
    """Tell the user privately (a requester who is no Slack user, such as an API key or the
    ideas schedule, has no one to tell here; an API caller hears through webhooks)."""
    if not is_slack_user(event.user):
        return None
    payload = {"user": event.user, "notice": event.notice.value, "detail": event.detail}
    return await queue.enqueue(tx, NOTIFY_USER, post_id=event.post_id, payload=payload)


async def queue_channel_notice(queue: JobQueue, tx: Transaction, event: TellChannel) -> int:
    """Tell the approvers in the approval channel."""
    payload = {"notice": event.notice.value, "detail": event.detail}
    return await queue.enqueue(tx, NOTIFY_CHANNEL, payload=payload)


class CardJobs:
    """Runs `sync_card` jobs; `on_change` hears of every card shown (App Home refreshes)."""

    def __init__(
        self,
        cards: Cards,
        slack: SlackDelivery,
        clock: Clock,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._cards = cards
        self._slack = slack
        self._clock = clock
        self._on_change = on_change

    def job_type(self) -> JobType:
        """The `sync_card` kind, for the worker's registry."""
        return JobType(
            name=SYNC_CARD,
            handler=self,
            dead_letter=DEAD_LETTER,
            label="Approval card update",
            concurrency=CARD_JOBS_AT_ONCE,
            starts_at_once=True,
        )

    async def run(self, job: Job) -> None:
        """Render the post's current state on its card."""
        assert job.post_id is not None
        post = await self._cards.post(job.post_id)
        if post is None:
            return
        approvals = await self._cards.approvals(post)
        try:
            card = await self._slack.show_card(post, approvals)
        except DeliveryError as exc:
            raise _job_failed(exc, self._clock) from exc
        await self._cards.shown(post, card)
        self._on_change()

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        """A card that never reached the channel: the post can't be approved; say so."""
        await self._cards.undeliverable(tx, job, reason)
        self._on_change()


class NoticeJobs:
    """Runs `notify_user` jobs."""

    def __init__(self, cards: Cards, slack: SlackDelivery, clock: Clock) -> None:
        self._cards = cards
        self._slack = slack
        self._clock = clock

    def job_type(self) -> JobType:
        """The `notify_user` kind, for the worker's registry."""
        return JobType(
            name=NOTIFY_USER,
            handler=self,
            dead_letter=DEAD_LETTER,
            label="Direct message",
            starts_at_once=True,
        )

    async def run(self, job: Job) -> None:
        """Send the notice."""
        post = await self._cards.post(job.post_id) if job.post_id else None
        try:
            await self._slack.send_notice(
                str(job.payload["user"]),
                Notice(job.payload["notice"]),
                post,
                job.payload.get("detail"),
            )
        except DeliveryError as exc:
            raise _job_failed(exc, self._clock) from exc

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        """Nothing more to do: the job stays in the dead-letter queue for a person to see."""
        log.error("notice_undeliverable", user=job.payload.get("user"), reason=reason)


class ChannelNoticeJobs:
    """Runs `notify_channel` jobs."""

    def __init__(self, slack: SlackDelivery, clock: Clock) -> None:
        self._slack = slack
        self._clock = clock

    def job_type(self) -> JobType:
        """The `notify_channel` kind, for the worker's registry."""
        return JobType(
            name=NOTIFY_CHANNEL,
            handler=self,
            dead_letter=DEAD_LETTER,
            label="Approval channel message",
            starts_at_once=True,
        )

    async def run(self, job: Job) -> None:
        """Post the notice in the approval channel."""
        notice = ChannelNotice(job.payload["notice"])
        try:
            await self._slack.send_channel_notice(notice, str(job.payload.get("detail") or ""))
        except DeliveryError as exc:
            raise _job_failed(exc, self._clock) from exc

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        """Nothing more to do: the job stays in the dead-letter queue for a person to see."""
        log.error("channel_notice_undeliverable", notice=job.payload.get("notice"), reason=reason)
