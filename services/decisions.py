"""Deciding about a post: approve, reject, retry, discard, and retrying dead jobs.

Approvers decide (see `services.policy`). Each decision is one `Lifecycle` move, so two clicks
can never both win and a crash can't separate a decision from its effects: approving queues
the publish in the same transaction (behind the first try of the card update that says
"Publishing..."). A decision on a pending draft is for the version the clicker was shown: an
edit or a regeneration that lands first makes the click change nothing
(`Verdict.STALE_VERSION`) instead of approving text nobody saw.

Approving records the clicker's approval of that version (`post_approvals`); the post moves
on once SOCIALPOST_REQUIRED_APPROVALS distinct approvers' approvals stand (`services.approvals`),
until then it stays pending and its card says who approved. The transaction holds the post at
its version before it counts (`Lifecycle.hold`), so concurrent approvals are counted one after
another: the last one needed moves the post once, the same person twice counts once.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime

import structlog

from services.approvals import Step, Tally, carried_time
from services.checks import ContentPolicy, check_async
from services.editing import Editing
from services.errors import InvalidRequest
from services.jobs import JobQueue, Transaction
from services.lifecycle import Action, Lifecycle, Moved
from services.models import Actor, Outcome, Verdict
from services.platforms.publish import PUBLISH, publish_key, queue_publish
from services.scheduling.rules import approval_time, check_post_at
from storage import Store
from storage.models import JobStatus, Post, PostStatus

log = structlog.get_logger(__name__)


def _source(actor: Actor, approvers: tuple[str, ...]) -> str:
    """Where the approval that moved the post came from, and everyone whose approval counted."""
    card = actor.card
    return json.dumps(
        {
            "user": actor.user_id,
            "channel": card.place if card else None,
            "message_ts": card.id if card else None,
            "approvers": list(approvers),
        }
    )


class Decisions:
    """Approve, reject, retry and discard posts, and retry dead jobs, on behalf of people."""

    def __init__(
        self,
        store: Store,
        lifecycle: Lifecycle,
        queue: JobQueue,
        editing: Editing,
        *,
        policy: ContentPolicy | None = None,
    ) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._queue = queue
        self._editing = editing
        self._policy = policy or ContentPolicy()

    async def unpublishable(self, action: str, post: Post, actor: Actor) -> Outcome | None:
        """The refusal of approving (or scheduling) `post` as it stands, when the checks
        find something (`services.checks`): its length (`OVER_LIMIT`) or the content policy
        (`POLICY`), with the problem as the detail; None when it may be published."""
        verdict = await check_async(
            post.platform, post.message or "", self._policy, thread=post.thread
        )
        measurement = verdict.measurement
        if not measurement.within_limit:
            refused = await self._lifecycle.refuse(action, actor, post.id, Verdict.OVER_LIMIT, post)
            return Outcome(refused.verdict, post, "; ".join(measurement.problems))
        problem = verdict.policy_problem
        if problem is not None:
            refused = await self._lifecycle.refuse(
                action, actor, post.id, Verdict.POLICY, post, detail=problem
            )
            return Outcome(refused.verdict, post, problem)
        return None

    async def _publish_after(self, tx: Transaction, moved: Moved) -> None:
        """Queue the publish behind the first job the move queued (its card update)."""
        after = moved.queued[0] if moved.queued else None
        await queue_publish(self._queue, tx, moved.post.id, after=after)

    async def approve(
        self, post_id: str, actor: Actor, *, post_at: datetime | None = None
    ) -> Outcome:
        """Claim a pending post for publishing (`pending` -> `approved`) and queue the publish.

        With `post_at` (Schedule…), or on a post whose requester asked for a time still ahead,
        the post is approved for that time instead (`pending` -> `scheduled`): its publish is
        queued to run then. Raises `InvalidRequest` (field `post_at`, a `PostAtProblem`) for a
        time that has passed or is too far ahead.
        """
        action = Action.SCHEDULE if post_at is not None else Action.APPROVE
        now = self._lifecycle.clock.now()
        if post_at is not None and (problem := check_post_at(post_at, now)):
            raise InvalidRequest({"post_at": problem.value})
        checked = await self._lifecycle.check(action, post_id, actor)
        if isinstance(checked, Outcome):
            return checked
        post = checked
        if refused := await self.unpublishable(action, post, actor):
            return refused
        # At the version checked above: who wrote it, its length, what the card showed. A
        # Schedule… counts as an approval too: only the last one needed schedules the post.
        async with self._lifecycle.transaction() as tx:
            counted = await self._count_approval(tx, post, actor, post_at)
        if counted is None:
            return await self._lifecycle.lost_race(post_id, actor)
        step, tally, moved = counted
        if step == Step.ALREADY_APPROVED:
            return await self._lifecycle.refuse(
                Action.APPROVE, actor, post_id, Verdict.APPROVED_BY_YOU, post
            )
        if step == Step.OWN_POST:  # the policy refused it already; the rule agrees
            return await self._lifecycle.refuse(
                Action.APPROVE, actor, post_id, Verdict.OWN_POST, post
            )
        if moved is None:
            log.info("approval_recorded", post_id=post_id, user=actor.user_id, of=tally.progress)
            return Outcome(Verdict.DONE, await self._store.posts.get(post_id) or post)
        log.info("post_approved", post_id=post_id, user=actor.user_id, by=tally.approvers)
        return Outcome(Verdict.DONE, moved.post)

    async def _count_approval(
        self, tx: Transaction, post: Post, actor: Actor, post_at: datetime | None = None
    ) -> tuple[Step, Tally, Moved | None] | None:
        """Record the actor's approval of the post's version (with `post_at`, the time their
        Schedule… chose) and, when it is the last one needed, approve the post and queue its
        publish. It is scheduled, its publish waiting for the time, when a time is still
        ahead: the actor's, else the one the other approvals carry, else the requester's.
        None when another change got to the post first."""
        held = await self._lifecycle.hold(tx, post)
        if held is None:
            return None
        policy = self._lifecycle.policy
        standing = await tx.approvals.standing(post.id, post.version)
        step, tally = policy.rule.step(
            standing, actor.user_id, policy.writers(post), eligible=policy.is_approver
        )
        if step not in (Step.RECORDED, Step.COMPLETE):
            return step, tally, None
        await tx.approvals.add(post.id, post.version, actor.user_id, post_at)
        if step == Step.RECORDED:
            await self._lifecycle.audit(
                tx, actor, Action.APPROVE, post.id, "approval_recorded", tally.progress
            )
            await self._lifecycle.announce(tx, post.id)
            return step, tally, None
        now = self._lifecycle.clock.now()
        approval = {
            "approved_by": actor.user_id,
            "approved_at": now,
            "approval_source": _source(actor, tally.approvers),
        }
        if post_at is None:
            post_at = await self._carried_time(tx, post, tally, now)
        if post_at is not None:
            moved = await self._lifecycle.move(
                tx, held, Action.SCHEDULE, actor, scheduled_for=post_at, **approval
            )
            if moved is None:
                return None
            await queue_publish(self._queue, tx, moved.post.id, after=None, run_at=post_at)
            log.info("post_scheduled", post_id=post.id, user=actor.user_id, at=post_at.isoformat())
            return step, tally, moved
        moved = await self._lifecycle.move(tx, held, Action.APPROVE, actor, **approval)
        if moved is None:
            return None
        await self._publish_after(tx, moved)
        return step, tally, moved

    async def _carried_time(
        self, tx: Transaction, post: Post, tally: Tally, now: datetime
    ) -> datetime | None:
        """When a plain Approve & post that completes the approvals publishes the post: at
        the time an earlier approver's Schedule… chose, else the requester's, while ahead
        (None: at once)."""
        carried = None
        if tally.required > 1:
            carried = carried_time(
                await tx.approvals.for_post(post.id), post.version, tally.approvers
            )
        if carried is not None and (at := approval_time(carried.at, now)) is not None:
            return at
        return approval_time(post.requested_for, now)

    async def reject(self, post_id: str, actor: Actor) -> Outcome:
        """Reject a pending post (`pending` -> `rejected`), as the clicker saw it."""
        return await self._close(Action.REJECT, post_id, actor)

    async def discard(self, post_id: str, actor: Actor) -> Outcome:
        """Give up on a failed or missed post, or on a publish waiting for its next automatic
        try (-> `rejected`)."""
        checked = await self._lifecycle.check(Action.DISCARD, post_id, actor)
        if isinstance(checked, Outcome) or checked.status != PostStatus.APPROVED:
            return await self._close(Action.DISCARD, post_id, actor)
        return await self._discard_waiting(checked, actor)

    async def _discard_waiting(self, post: Post, actor: Actor) -> Outcome:
        """Discard a publish between two tries: only while its job waits (cancelled in the
        same transaction); a try in flight right now wins, and the clicker is told."""
        async with self._lifecycle.transaction() as tx:
            cancelled = await self._queue.cancel(tx, publish_key(post.id))
            moved = None
            if cancelled:
                moved = await self._lifecycle.move(
                    tx,
                    post,
                    Action.DISCARD,
                    actor,
                    rejected_by=actor.user_id,
                    next_try_at=None,
                    retry_reason=None,
                )
            else:
                await self._lifecycle.audit(tx, actor, Action.DISCARD, post.id, "lost")
        if moved is not None:
            return Outcome(Verdict.DONE, moved.post)
        if not cancelled:
            return Outcome(Verdict.ALREADY_PUBLISHING, await self._store.posts.get(post.id))
        return await self._lifecycle.lost_race(post.id, actor)

    async def _close(self, action: Action, post_id: str, actor: Actor) -> Outcome:
        checked = await self._lifecycle.check(action, post_id, actor)
        if isinstance(checked, Outcome):
            return checked
        return await self._lifecycle.act(
            checked, action, actor, rejected_by=actor.user_id, failure_reason=None
        )

    async def retry(self, post_id: str, actor: Actor) -> Outcome:
        """Try a failed post again: publish it again, draft it again, or deliver its card.

        A failed publish is retried by approvers; a failed draft or an undelivered card by
        approvers and the requester. Drafting again takes a rate-limit token (`RateLimited`).
        """
        checked = await self._lifecycle.check(Action.RETRY, post_id, actor)
        if isinstance(checked, Outcome):
            return checked
        post = checked
        if post.status in (PostStatus.FAILED_POST, PostStatus.MISSED):
            return await self._lifecycle.act(
                post, Action.RETRY, actor, then=self._publish_after, failure_reason=None
            )
        if post.status == PostStatus.FAILED_GENERATION:
            return await self._editing.redraft(post, actor, Action.RETRY)
        # An undelivered card: the move announces the post, which sends its card again.
        return await self._lifecycle.act(post, Action.RETRY, actor)

    async def retry_job(self, job_id: int, actor: Actor) -> Outcome:
        """Run a dead job again from scratch (App Home); approvers only.

        A dead publish can only be retried through its post: a failed post is published
        again (as its card's Retry does); for a post that was discarded or has gone out since,
        there is nothing to retry and the refusal says so.
        """
        refuse = functools.partial(
            self._lifecycle.refuse, Action.RETRY_JOB, actor, detail=f"job {job_id}"
        )
        if not self._lifecycle.policy.may_retry_jobs(actor.user_id):
            return await refuse("", Verdict.NOT_APPROVER)
        job = await self._store.jobs.get(job_id)
        if job is None or job.status != JobStatus.DEAD:
            return await refuse((job.post_id or "") if job else "", Verdict.NOT_FAILED)
        post = await self._store.posts.get(job.post_id) if job.post_id else None
        if job.kind == PUBLISH:
            if post is None:
                return await refuse(job.post_id or "", Verdict.NOT_FOUND)
            if post.status == PostStatus.FAILED_POST:
                return await self.retry(post.id, actor)
            rejected = post.status == PostStatus.REJECTED
            return await refuse(
                post.id, Verdict.DISCARDED if rejected else Verdict.NOT_FAILED, post
            )
        async with self._lifecycle.transaction() as tx:
            revived = await self._queue.revive(tx, job_id)
            outcome = "requeued" if revived else "lost"
            await self._lifecycle.audit(
                tx, actor, Action.RETRY_JOB, job.post_id, outcome, f"job {job_id}"
            )
        if not revived:
            return Outcome(Verdict.NOT_FAILED, post)
        return Outcome(Verdict.DONE, post)
