"""People's moves on a post's time: unschedule, post now, retry now, revive.

Scheduling itself is an approval for a time (`Decisions.approve` with `post_at`). Each move
here is one `Lifecycle` move, so of two racing changes exactly one wins and the other is
answered with what won:

- Unschedule against the moment of publishing: the publish job takes `scheduled ->
  approved` (due) with the same conditional UPDATE that Unschedule's `scheduled -> pending`
  uses; whichever commits first wins. Unschedule also cancels the queued publish; a job that
  already started finds the post pending and leaves it.
- Post now twice: the second finds the post approved ("already being published").
- Revive against an approval meanwhile: the second click finds the post approved.
"""

from __future__ import annotations

import structlog

from services.jobs import JobQueue, Transaction
from services.lifecycle import Action, Lifecycle, Moved
from services.models import Actor, Outcome, Verdict
from services.platforms.publish import publish_key, queue_publish
from storage.models import PostStatus

log = structlog.get_logger(__name__)


def _explained(outcome: Outcome, when_pending: Verdict, *, publishing: bool = True) -> Outcome:
    """A refusal in this room's words: a post on its way out is "already being published"
    (for `publishing` moves: Unschedule, Post now); one found pending (another click got
    there first) gets `when_pending`, not the pending card's answers (those are about
    versions and readiness)."""
    post = outcome.post
    if post is None or outcome.done:
        return outcome
    approved = outcome.verdict == Verdict.ALREADY_APPROVED and post.status == PostStatus.APPROVED
    if publishing and approved:
        return Outcome(Verdict.ALREADY_PUBLISHING, post)
    if post.status == PostStatus.PENDING and outcome.verdict in (
        Verdict.STALE_VERSION,
        Verdict.NOT_READY,
    ):
        return Outcome(when_pending, post)
    return outcome


class Scheduling:
    """Unschedule, Post now, Retry now and Revive, on behalf of people."""

    def __init__(self, lifecycle: Lifecycle, queue: JobQueue) -> None:
        self._lifecycle = lifecycle
        self._queue = queue
        self.clock = lifecycle.clock

    async def may_schedule(self, post_id: str, actor: Actor) -> Outcome:
        """Whether `actor` may schedule the post now (the rules of Approve), before the
        Schedule… modal opens; checked again when it is submitted."""
        checked = await self._lifecycle.check(Action.SCHEDULE, post_id, actor)
        if isinstance(checked, Outcome):
            return checked
        return Outcome(Verdict.DONE, checked)

    async def unschedule(self, post_id: str, actor: Actor) -> Outcome:
        """Make a scheduled post pending again (its card gets its buttons back)."""
        checked = await self._lifecycle.check(Action.UNSCHEDULE, post_id, actor)
        if isinstance(checked, Outcome):
            return _explained(checked, Verdict.NOT_SCHEDULED)

        async def cancel_publish(tx: Transaction, _moved: Moved) -> None:
            await self._queue.cancel(tx, publish_key(post_id))

        outcome = await self._lifecycle.act(
            checked,
            Action.UNSCHEDULE,
            actor,
            then=cancel_publish,
            scheduled_for=None,
            approved_by=None,
            approved_at=None,
            approval_source=None,
        )
        return _explained(outcome, Verdict.NOT_SCHEDULED)

    async def post_now(self, post_id: str, actor: Actor) -> Outcome:
        """Publish a scheduled post at once: its queued publish becomes due now."""
        checked = await self._lifecycle.check(Action.POST_NOW, post_id, actor)
        if isinstance(checked, Outcome):
            return _explained(checked, Verdict.NOT_SCHEDULED)

        async def publish_now(tx: Transaction, moved: Moved) -> None:
            after = moved.queued[0] if moved.queued else None
            await queue_publish(self._queue, tx, post_id, after=after)

        outcome = await self._lifecycle.act(checked, Action.POST_NOW, actor, then=publish_now)
        return _explained(outcome, Verdict.NOT_SCHEDULED)

    async def retry_now(self, post_id: str, actor: Actor) -> Outcome:
        """Try a publish that waits for its next automatic try now."""
        checked = await self._lifecycle.check(Action.RETRY_NOW, post_id, actor)
        if isinstance(checked, Outcome):
            return checked

        async def publish_now(tx: Transaction, moved: Moved) -> None:
            await queue_publish(self._queue, tx, post_id, after=None)

        return await self._lifecycle.act(
            checked,
            Action.RETRY_NOW,
            actor,
            then=publish_now,
            next_try_at=None,
            retry_reason=None,
        )

    async def revive(self, post_id: str, actor: Actor) -> Outcome:
        """Make an expired draft pending again (its deadlines start over)."""
        checked = await self._lifecycle.check(Action.REVIVE, post_id, actor)
        if isinstance(checked, Outcome):
            return _explained(checked, Verdict.NOT_EXPIRED, publishing=False)
        outcome = await self._lifecycle.act(
            checked, Action.REVIVE, actor, awaiting_since=None, reminded_at=None
        )
        return _explained(outcome, Verdict.NOT_EXPIRED, publishing=False)
