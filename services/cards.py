"""A post's approval card, as the domain knows it: where it is, and what its fate means.

The layer that shows cards (`handlers.slack_out`) reports here: where it put a post's card
(a `CardRef`, opaque to the domain: stored with the post and compared with the card a click
comes from), and when a card could not be delivered at all. A post whose card never reached
the approval channel can't be approved: it becomes `failed_approval_send` and its requester is
told; a later delivery (Retry) makes it pending again.
"""

from __future__ import annotations

from services.approvals import ApprovalState, Tally
from services.events import EventBus, Notice, TellUser
from services.jobs import Transaction, finish_job
from services.lifecycle import Action, Lifecycle
from services.models import CardRef
from storage import Store
from storage.models import Job, JobStatus, Post, PostStatus


class Cards:
    """What the domain keeps of each post's card."""

    def __init__(self, store: Store, lifecycle: Lifecycle, events: EventBus) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._events = events

    async def post(self, post_id: str) -> Post | None:
        """The post as its card must show it now."""
        return await self._store.posts.get(post_id)

    async def approvals(self, post: Post) -> ApprovalState:
        """Who approved the post's current version so far, and whose approvals the latest
        change cleared (what a pending card says about approvals)."""
        policy = self._lifecycle.policy
        if policy.rule.required <= 1:
            # The one approval needed moves the post on: there is never anything to say.
            return ApprovalState(Tally((), 1))
        return policy.approvals_of(post, await self._store.approvals.for_post(post.id))

    async def shown(self, post: Post, card: CardRef) -> None:
        """The post's card is at `card` now; a post whose card had failed is pending again."""
        if (card.place, card.id) == (post.channel, post.message_ts):
            return
        async with self._lifecycle.transaction() as tx:
            await finish_job(tx)  # a card job is done once its card is recorded
            current = await tx.posts.update(post.id, channel=card.place, message_ts=card.id)
            if current is not None and current.status == PostStatus.FAILED_APPROVAL_SEND:
                await self._lifecycle.move(tx, current, Action.CARD_DELIVERED)

    async def undeliverable(self, tx: Transaction, job: Job, reason: str) -> bool:
        """The card job `job` failed for good (inside its dead-lettering transaction): a
        pending post whose card never got through is failed and its requester told, unless
        a newer card update is already queued (it tries again, and its outcome decides).
        Returns whether the post was failed."""
        post = await tx.posts.get(job.post_id) if job.post_id else None
        if post is None or post.message_ts is not None or post.status != PostStatus.PENDING:
            return False
        if any(
            other.kind == job.kind and other.status == JobStatus.QUEUED
            for other in await tx.jobs.for_post(post.id)
        ):
            return False
        failed = await self._lifecycle.move(
            tx, post, Action.CARD_UNDELIVERABLE, failure_reason=reason
        )
        if failed is not None and post.requester:
            notice = TellUser(post.requester, Notice.CARD_UNDELIVERABLE, post.id, reason)
            await self._events.emit(tx, notice)
        return failed is not None
