"""The approval state machine: who may do what to a post, and the transitions that do it.

    generating -> pending | failed_generation
    pending    -> approved (claimed; publish queued) | rejected | generating (regenerate)
    approved   -> posted | failed_post
    failed_post -> approved (retry) | rejected (discard)
    failed_generation -> generating (retry) | rejected (discard)
    failed_approval_send -> pending (card delivered on retry) | rejected (discard)

Every transition is one conditional UPDATE inside a `BEGIN IMMEDIATE` transaction together
with the jobs that carry it out and an audit entry, so two clicks can never both win and a
crash can't separate a decision from its effects.

A decision on a pending draft is for the version the clicker was shown (`Actor.seen_version`):
the UPDATE also requires that version, so an edit or a regeneration that lands first makes the
click change nothing (`Verdict.STALE_VERSION`) instead of approving text nobody saw.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict

from services.drafting import DraftingService
from services.errors import InvalidRequest, RateLimited
from services.outbox import JobKind, Outbox, enqueue_card, enqueue_publish
from services.platforms import measure_draft_async, spec_for
from services.ratelimit import RateLimiter
from storage import Store, Transaction
from storage.models import FAILED_STATUSES, JobStatus, Post, PostStatus

log = structlog.get_logger(__name__)

FEEDBACK_MAX = 500

DECIDED = {
    PostStatus.APPROVED: PostStatus.APPROVED,
    PostStatus.POSTED: PostStatus.APPROVED,
    PostStatus.FAILED_POST: PostStatus.APPROVED,
    PostStatus.REJECTED: PostStatus.REJECTED,
}


class Actor(BaseModel):
    """Who clicked, on which card (channel and message ts; None from App Home), and which
    version of the post that card, App Home or modal showed them (None: it didn't say)."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    channel: str | None = None
    message_ts: str | None = None
    seen_version: int | None = None


class Verdict(StrEnum):
    """How a request to change a post ended."""

    DONE = "done"
    NOT_FOUND = "not_found"
    WRONG_CARD = "wrong_card"
    NOT_APPROVER = "not_approver"
    NOT_EDITOR = "not_editor"
    OWN_POST = "own_post"
    STALE_VERSION = "stale_version"
    ALREADY_APPROVED = "already_approved"
    ALREADY_REJECTED = "already_rejected"
    NOT_READY = "not_ready"
    NOT_EDITABLE = "not_editable"
    NOT_FAILED = "not_failed"
    DISCARDED = "discarded"
    OVER_LIMIT = "over_limit"


@dataclass(frozen=True)
class Outcome:
    """The verdict, the post as it is now, and a detail for the user (e.g. a measurement)."""

    verdict: Verdict
    post: Post | None = None
    detail: str | None = None

    @property
    def done(self) -> bool:
        """Whether the change happened."""
        return self.verdict == Verdict.DONE


@dataclass(frozen=True)
class ApprovalPolicy:
    """Who may decide: the approvers (everyone when empty), and whether on their own posts."""

    approvers: frozenset[str]
    allow_self_approval: bool

    def is_approver(self, user_id: str) -> bool:
        """Whether the user may approve, reject, retry and discard."""
        return not self.approvers or user_id in self.approvers

    def may_edit(self, user_id: str, post: Post) -> bool:
        """Approvers and the requester may edit and regenerate a pending draft."""
        return self.is_approver(user_id) or user_id == post.requester

    def may_approve_own(self, user_id: str, post: Post) -> bool:
        """Whoever wrote the current version (the requester, or the last person who edited
        the draft) may approve it only with self-approval allowed; anyone else may."""
        return self.allow_self_approval or user_id not in (post.requester, post.edited_by)


def _from_card_or_private(actor: Actor, post: Post) -> bool:
    """Whether a click came from the post's own card, App Home or a direct message.

    A button elsewhere carrying this post's id (a forged or copied payload) is refused.
    """
    if actor.message_ts is None or actor.channel is None or actor.channel.startswith("D"):
        return True
    if post.message_ts is None:
        # The card was just posted and its ts not stored yet: nothing to compare with.
        return True
    return (actor.channel, actor.message_ts) == (post.channel, post.message_ts)


def _decided_verdict(status: PostStatus) -> Verdict | None:
    decided = DECIDED.get(status)
    if decided == PostStatus.APPROVED:
        return Verdict.ALREADY_APPROVED
    if decided == PostStatus.REJECTED:
        return Verdict.ALREADY_REJECTED
    return None


class ApprovalService:
    """Approve, reject, retry and discard posts, on behalf of Slack users."""

    def __init__(
        self,
        store: Store,
        outbox: Outbox,
        policy: ApprovalPolicy,
        drafting: DraftingService,
        limiter: RateLimiter,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self.policy = policy
        self._drafting = drafting
        self._limiter = limiter

    async def _audit(
        self,
        tx: Transaction,
        actor: Actor,
        action: str,
        post_id: str | None,
        outcome: str,
        detail: str | None = None,
    ) -> None:
        await tx.audit.record(
            actor=actor.user_id,
            action=action,
            post_id=post_id,
            outcome=outcome,
            channel=actor.channel,
            message_ts=actor.message_ts,
            detail=detail,
        )

    async def _refuse(
        self,
        action: str,
        actor: Actor,
        post_id: str,
        verdict: Verdict,
        post: Post | None = None,
        *,
        detail: str | None = None,
    ) -> Outcome:
        async with self._store.transaction() as tx:
            await self._audit(tx, actor, action, post_id or None, f"refused:{verdict}", detail)
            if verdict == Verdict.STALE_VERSION:
                # The clicker's card is behind: show them the version they would decide on.
                await enqueue_card(tx, post_id)
        if verdict == Verdict.STALE_VERSION:
            self._outbox.wake()
        log.info("action_refused", action=action, user=actor.user_id, post_id=post_id, why=verdict)
        return Outcome(verdict, post)

    async def _refuse_if_stale(self, action: str, actor: Actor, post: Post) -> Outcome | None:
        """The refusal when the actor was shown another version than the current one."""
        if actor.seen_version == post.version:
            return None
        return await self._refuse(action, actor, post.id, Verdict.STALE_VERSION, post)

    async def _load(self, action: str, post_id: str, actor: Actor) -> Post | Outcome:
        """The post, or the refusal when it doesn't exist or the click came from another card."""
        post = await self._store.posts.get(post_id)
        if post is None:
            return await self._refuse(action, actor, post_id, Verdict.NOT_FOUND)
        if not _from_card_or_private(actor, post):
            return await self._refuse(action, actor, post_id, Verdict.WRONG_CARD, post)
        return post

    async def _refusal_for_status(self, action: str, actor: Actor, post: Post) -> Outcome:
        verdict = _decided_verdict(post.status) or Verdict.NOT_READY
        return await self._refuse(action, actor, post.id, verdict, post)

    async def approve(self, post_id: str, actor: Actor) -> Outcome:
        """Claim a pending post for publishing (`pending` -> `approved`) and queue the publish."""
        loaded = await self._load("approve", post_id, actor)
        if isinstance(loaded, Outcome):
            return loaded
        post = loaded
        if not self.policy.is_approver(actor.user_id):
            return await self._refuse("approve", actor, post_id, Verdict.NOT_APPROVER, post)
        if post.status != PostStatus.PENDING:
            return await self._refusal_for_status("approve", actor, post)
        if stale := await self._refuse_if_stale("approve", actor, post):
            return stale
        if not self.policy.may_approve_own(actor.user_id, post):
            return await self._refuse("approve", actor, post_id, Verdict.OWN_POST, post)
        measurement = await measure_draft_async(
            post.platform, post.message or "", thread=post.thread
        )
        if not measurement.within_limit:
            outcome = await self._refuse("approve", actor, post_id, Verdict.OVER_LIMIT, post)
            return Outcome(outcome.verdict, post, "; ".join(measurement.problems))
        source = json.dumps(
            {"user": actor.user_id, "channel": actor.channel, "message_ts": actor.message_ts}
        )
        async with self._store.transaction() as tx:
            # At the version checked above: who wrote it, its length, what the card showed.
            claimed = await tx.posts.transition(
                post_id,
                [PostStatus.PENDING],
                PostStatus.APPROVED,
                version=post.version,
                approved_by=actor.user_id,
                approved_at=datetime.now(UTC),
                approval_source=source,
            )
            if claimed is not None:
                card = await enqueue_card(tx, post_id)
                await enqueue_publish(tx, post_id, after_card=card)
            await self._audit(tx, actor, "approve", post_id, "approved" if claimed else "lost")
        if claimed is None:
            return await self._lost_race("approve", post_id, actor)
        self._outbox.wake()
        log.info("post_approved", post_id=post_id, user=actor.user_id)
        return Outcome(Verdict.DONE, claimed)

    async def reject(self, post_id: str, actor: Actor) -> Outcome:
        """Reject a pending post (`pending` -> `rejected`)."""
        return await self._close(
            "reject",
            post_id,
            actor,
            [PostStatus.PENDING],
            otherwise=Verdict.NOT_READY,
            versioned=True,
        )

    async def discard(self, post_id: str, actor: Actor) -> Outcome:
        """Give up on a failed post (-> `rejected`)."""
        return await self._close(
            "discard",
            post_id,
            actor,
            FAILED_STATUSES,
            otherwise=Verdict.NOT_FAILED,
        )

    async def retry(self, post_id: str, actor: Actor) -> Outcome:
        """Try a failed post again: publish it again, draft it again, or deliver its card.

        A failed publish is retried by approvers; a failed draft or an undelivered card by
        approvers and the requester. Drafting again takes a rate-limit token (`RateLimited`).
        """
        loaded = await self._load("retry", post_id, actor)
        if isinstance(loaded, Outcome):
            return loaded
        post = loaded
        if post.status == PostStatus.FAILED_POST:
            if not self.policy.is_approver(actor.user_id):
                return await self._refuse("retry", actor, post_id, Verdict.NOT_APPROVER, post)
            return await self._move(
                "retry",
                post,
                actor,
                PostStatus.APPROVED,
                publish=True,
            )
        if post.status not in (PostStatus.FAILED_GENERATION, PostStatus.FAILED_APPROVAL_SEND):
            verdict = _decided_verdict(post.status) or Verdict.NOT_FAILED
            return await self._refuse("retry", actor, post_id, verdict, post)
        if not self.policy.may_edit(actor.user_id, post):
            return await self._refuse("retry", actor, post_id, Verdict.NOT_EDITOR, post)
        if post.status == PostStatus.FAILED_APPROVAL_SEND:
            async with self._store.transaction() as tx:
                await enqueue_card(tx, post_id)
                await self._audit(tx, actor, "retry", post_id, "card_requeued")
            self._outbox.wake()
            return Outcome(Verdict.DONE, post)
        await self._take_token("retry", actor, post)
        outcome = await self._move("retry", post, actor, PostStatus.GENERATING)
        if outcome.done:
            self._drafting.start(post_id)
        return outcome

    async def may_change(self, post_id: str, actor: Actor, action: str) -> Outcome:
        """Whether `actor` may edit or regenerate the post now: approvers and the requester,
        while it is pending. Checked again when the change is submitted."""
        loaded = await self._load(action, post_id, actor)
        if isinstance(loaded, Outcome):
            return loaded
        post = loaded
        if not self.policy.may_edit(actor.user_id, post):
            return await self._refuse(action, actor, post_id, Verdict.NOT_EDITOR, post)
        if post.status != PostStatus.PENDING:
            verdict = _decided_verdict(post.status) or Verdict.NOT_EDITABLE
            return await self._refuse(action, actor, post_id, verdict, post)
        if stale := await self._refuse_if_stale(action, actor, post):
            return stale
        return Outcome(Verdict.DONE, post)

    async def edit(self, post_id: str, actor: Actor, text: str) -> Outcome:
        """Replace a pending draft with the actor's text: a new version, published verbatim.

        Raises `InvalidRequest` (field `text`) when the text is empty or breaks the
        platform's rules, with the measured length.
        """
        allowed = await self.may_change(post_id, actor, "edit")
        if not allowed.done or allowed.post is None:
            return allowed
        post = allowed.post
        text = text.strip()
        if not text:
            raise InvalidRequest({"text": "The post can't be empty."})
        measurement = await measure_draft_async(post.platform, text, thread=post.thread)
        if not measurement.within_limit:
            name = spec_for(post.platform).name
            await self._refuse("edit", actor, post_id, Verdict.OVER_LIMIT, post)
            raise InvalidRequest(
                {"text": f"{name} won't take this: {'; '.join(measurement.problems)}."}
            )
        async with self._store.transaction() as tx:
            # Read the version inside the write transaction: concurrent edits can't collide.
            current = await tx.posts.get(post_id)
            edited = None
            if (
                current is not None
                and current.status == PostStatus.PENDING
                and current.version == actor.seen_version
            ):
                kept = await tx.posts.update(
                    post_id,
                    only_if=[PostStatus.PENDING],
                    edited_by=actor.user_id,
                    failure_reason=None,
                )
                if kept is not None:
                    edited = await tx.posts.add_version(
                        post_id, text, "edited", author=actor.user_id
                    )
                    await enqueue_card(tx, post_id)
            await self._audit(tx, actor, "edit", post_id, "edited" if edited else "lost")
        if edited is None:
            return await self._lost_race("edit", post_id, actor)
        self._outbox.wake()
        return Outcome(Verdict.DONE, edited)

    async def regenerate(self, post_id: str, actor: Actor, feedback: str | None) -> Outcome:
        """Write a new version of a pending draft from the same brief, guided by `feedback`.

        Takes a rate-limit token (`RateLimited`); raises `InvalidRequest` (field `feedback`)
        for feedback over the limit.
        """
        allowed = await self.may_change(post_id, actor, "regenerate")
        if not allowed.done or allowed.post is None:
            return allowed
        feedback = (feedback or "").strip() or None
        if feedback is not None and len(feedback) > FEEDBACK_MAX:
            raise InvalidRequest(
                {"feedback": f"Keep the feedback under {FEEDBACK_MAX} characters."}
            )
        await self._take_token("regenerate", actor, allowed.post)
        outcome = await self._move(
            "regenerate", allowed.post, actor, PostStatus.GENERATING, versioned=True
        )
        if outcome.done:
            self._drafting.start(post_id, feedback=feedback)
        return outcome

    async def make_thread(self, post_id: str, actor: Actor) -> Outcome:
        """Publish a long pending X draft as a thread instead of one post."""
        allowed = await self.may_change(post_id, actor, "make_thread")
        if not allowed.done or allowed.post is None:
            return allowed
        async with self._store.transaction() as tx:
            changed = await tx.posts.update(
                post_id,
                only_if=[PostStatus.PENDING],
                version=allowed.post.version,
                thread=True,
            )
            if changed is not None:
                await enqueue_card(tx, post_id)
            await self._audit(tx, actor, "make_thread", post_id, "thread" if changed else "lost")
        if changed is None:
            return await self._lost_race("make_thread", post_id, actor)
        self._outbox.wake()
        return Outcome(Verdict.DONE, changed)

    async def retry_job(self, job_id: int, actor: Actor) -> Outcome:
        """Run a dead job again from scratch (App Home); approvers only.

        A dead publish can only be retried through its post: a failed post is published
        again (as its card's Retry does); for a post that was discarded or has gone out since,
        there is nothing to retry and the refusal says so.
        """
        refuse = functools.partial(self._refuse, "retry_job", actor, detail=f"job {job_id}")
        if not self.policy.is_approver(actor.user_id):
            return await refuse("", Verdict.NOT_APPROVER)
        job = await self._store.jobs.get(job_id)
        if job is None or job.status != JobStatus.DEAD:
            return await refuse((job.post_id or "") if job else "", Verdict.NOT_FAILED)
        post = await self._store.posts.get(job.post_id) if job.post_id else None
        if job.kind == JobKind.PUBLISH:
            if post is None:
                return await refuse(job.post_id or "", Verdict.NOT_FOUND)
            if post.status == PostStatus.FAILED_POST:
                return await self.retry(post.id, actor)
            rejected = post.status == PostStatus.REJECTED
            return await refuse(
                post.id, Verdict.DISCARDED if rejected else Verdict.NOT_FAILED, post
            )
        async with self._store.transaction() as tx:
            revived = await tx.jobs.revive(job_id, run_at=datetime.now(UTC))
            outcome = "requeued" if revived else "lost"
            await self._audit(tx, actor, "retry_job", job.post_id, outcome, f"job {job_id}")
        if not revived:
            return Outcome(Verdict.NOT_FAILED, post)
        self._outbox.wake()
        return Outcome(Verdict.DONE, post)

    async def _take_token(self, action: str, actor: Actor, post: Post) -> None:
        """Take a drafting token for `actor`; a refusal is audited, then raised."""
        try:
            self._limiter.acquire(actor.user_id)
        except RateLimited:
            async with self._store.transaction() as tx:
                await self._audit(tx, actor, action, post.id, "refused:rate_limited")
            raise

    async def _move(
        self,
        action: str,
        post: Post,
        actor: Actor,
        to_status: PostStatus,
        *,
        publish: bool = False,
        versioned: bool = False,
        **fields: Any,
    ) -> Outcome:
        """One transition from the post's current status (as just read: a concurrent change
        makes it lose; with `versioned`, so does a new version), with its card update, its
        publish if asked, and the audit entry."""
        async with self._store.transaction() as tx:
            moved = await tx.posts.transition(
                post.id,
                [post.status],
                to_status,
                version=post.version if versioned else None,
                failure_reason=None,
                **fields,
            )
            if moved is not None:
                card = await enqueue_card(tx, post.id)
                if publish:
                    await enqueue_publish(tx, post.id, after_card=card)
            await self._audit(tx, actor, action, post.id, to_status.value if moved else "lost")
        if moved is None:
            return await self._lost_race(action, post.id, actor)
        self._outbox.wake()
        log.info("post_moved", action=action, post_id=post.id, to=to_status, user=actor.user_id)
        return Outcome(Verdict.DONE, moved)

    async def _close(
        self,
        action: str,
        post_id: str,
        actor: Actor,
        from_statuses: Collection[PostStatus],
        *,
        otherwise: Verdict,
        versioned: bool = False,
    ) -> Outcome:
        """Reject or discard: approvers only, from `from_statuses` only (with `versioned`,
        only for the version the actor was shown)."""
        loaded = await self._load(action, post_id, actor)
        if isinstance(loaded, Outcome):
            return loaded
        post = loaded
        if not self.policy.is_approver(actor.user_id):
            return await self._refuse(action, actor, post_id, Verdict.NOT_APPROVER, post)
        if post.status not in from_statuses:
            verdict = _decided_verdict(post.status) or otherwise
            return await self._refuse(action, actor, post_id, verdict, post)
        if versioned and (stale := await self._refuse_if_stale(action, actor, post)):
            return stale
        return await self._move(
            action,
            post,
            actor,
            PostStatus.REJECTED,
            versioned=versioned,
            rejected_by=actor.user_id,
        )

    async def _lost_race(self, action: str, post_id: str, actor: Actor) -> Outcome:
        """Another click changed the post between our read and our UPDATE."""
        post = await self._store.posts.get(post_id)
        if post is None:
            return Outcome(Verdict.NOT_FOUND)
        if post.status == PostStatus.PENDING and post.version != actor.seen_version:
            # An edit or a regeneration got there first (it queued its own card update).
            return Outcome(Verdict.STALE_VERSION, post)
        return Outcome(_decided_verdict(post.status) or Verdict.NOT_READY, post)
