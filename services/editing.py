"""Changing a pending draft: edit its text, regenerate it, make it a thread.

Editors (approvers and the requester) may, while the post is pending and only for the version
they were shown: each change is one `Lifecycle` move, version-bound, so an approval or another
edit that lands first makes it change nothing. Writing a new draft (Regenerate, or Retry of a
failed draft) takes a token from the drafting rate limits and queues the `draft` job with the
move.

Every change clears the approvals collected so far (SOCIALPOST_REQUIRED_APPROVALS), in the
transaction that makes it: an approval is for the exact text that is published. An approval
and a change racing each other take turns on the post (both are bound to its version): either
the approval lands first and the change clears it, or the change lands first and the approval
is refused as stale.
"""

from __future__ import annotations

import structlog

from services.checks import ContentPolicy, check_async
from services.drafting.budget import BudgetGuard
from services.drafting.job import Drafting
from services.errors import InvalidRequest, RateLimited
from services.jobs import Transaction
from services.lifecycle import Action, Lifecycle, Moved
from services.models import Actor, Outcome, Verdict
from services.platforms import spec_for
from services.ratelimit import RateLimiter
from storage.models import Post

log = structlog.get_logger(__name__)

FEEDBACK_MAX = 500


async def _clear_approvals(tx: Transaction, moved: Moved) -> None:
    """The change makes the approvals collected so far void (the card says so)."""
    cleared = await tx.approvals.clear(moved.post.id)
    if cleared:
        log.info("approvals_cleared", post_id=moved.post.id, approvers=cleared)


class Editing:
    """Edit, regenerate and thread pending drafts, on behalf of people."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        drafting: Drafting,
        limiter: RateLimiter,
        *,
        policy: ContentPolicy | None = None,
        budget: BudgetGuard | None = None,
    ) -> None:
        self._lifecycle = lifecycle
        self._drafting = drafting
        self._limiter = limiter
        self._policy = policy or ContentPolicy()
        self._budget = budget

    async def may_change(self, post_id: str, actor: Actor, action: str) -> Outcome:
        """Whether `actor` may edit or regenerate the post now (`action`: "edit" or
        "regenerate"): approvers and the requester, while it is pending. Checked again when
        the change is submitted."""
        checked = await self._lifecycle.check(Action(action), post_id, actor)
        if isinstance(checked, Outcome):
            return checked
        return Outcome(Verdict.DONE, checked)

    async def edit(self, post_id: str, actor: Actor, text: str) -> Outcome:
        """Replace a pending draft with the actor's text: a new version, published verbatim.

        Raises `InvalidRequest` (field `text`) when the text is empty, breaks the
        platform's rules (with the measured length) or the content policy.
        """
        checked = await self._lifecycle.check(Action.EDIT, post_id, actor)
        if isinstance(checked, Outcome):
            return checked
        post = checked
        text = text.strip()
        if not text:
            raise InvalidRequest({"text": "The post can't be empty."})
        verdict = await check_async(post.platform, text, self._policy, thread=post.thread)
        measurement = verdict.measurement
        if not measurement.within_limit:
            name = spec_for(post.platform).name
            await self._lifecycle.refuse("edit", actor, post_id, Verdict.OVER_LIMIT, post)
            raise InvalidRequest(
                {"text": f"{name} won't take this: {'; '.join(measurement.problems)}."}
            )
        if (problem := verdict.policy_problem) is not None:
            await self._lifecycle.refuse(
                "edit", actor, post_id, Verdict.POLICY, post, detail=problem
            )
            raise InvalidRequest({"text": f"This breaks the content policy: {problem}."})

        async def new_version(tx: Transaction, moved: Moved) -> Post | None:
            await _clear_approvals(tx, moved)
            return await tx.posts.add_version(post_id, text, "edited", author=actor.user_id)

        return await self._lifecycle.act(
            post,
            Action.EDIT,
            actor,
            then=new_version,
            edited_by=actor.user_id,
            failure_reason=None,
        )

    async def regenerate(self, post_id: str, actor: Actor, feedback: str | None) -> Outcome:
        """Write a new version of a pending draft from the same brief, guided by `feedback`.

        Takes a rate-limit token (`RateLimited`); raises `InvalidRequest` (field `feedback`)
        for feedback over the limit.
        """
        checked = await self._lifecycle.check(Action.REGENERATE, post_id, actor)
        if isinstance(checked, Outcome):
            return checked
        feedback = (feedback or "").strip() or None
        if feedback is not None and len(feedback) > FEEDBACK_MAX:
            raise InvalidRequest(
                {"feedback": f"Keep the feedback under {FEEDBACK_MAX} characters."}
            )
        return await self.redraft(checked, actor, Action.REGENERATE, feedback=feedback)

    async def redraft(
        self, post: Post, actor: Actor, action: Action, *, feedback: str | None = None
    ) -> Outcome:
        """Draft the post again (`action`: regenerate a pending draft, or retry a failed
        one), which the actor may: take their drafting token, move the post to `generating`
        and queue its draft. Refused (`BudgetExhausted`, no token taken) once this month's
        LLM budget is used up."""
        if self._budget is not None:
            await self._budget.admit(self._lifecycle, actor, action, post.id)

        async def queue_draft(tx: Transaction, moved: Moved) -> None:
            # The token is spent only by the click that moved the post (a lost race, or a
            # re-delivery, takes none); refused, it rolls the move back.
            await self._limiter.acquire(tx, actor.user_id)
            await _clear_approvals(tx, moved)
            await self._drafting.queue(tx, post.id, feedback=feedback)

        try:
            return await self._lifecycle.act(
                post, action, actor, then=queue_draft, failure_reason=None
            )
        except RateLimited:
            async with self._lifecycle.transaction() as tx:
                await self._lifecycle.audit(tx, actor, action, post.id, "refused:rate_limited")
            raise

    async def make_thread(self, post_id: str, actor: Actor) -> Outcome:
        """Publish a long pending X draft as a thread instead of one post."""
        checked = await self._lifecycle.check(Action.MAKE_THREAD, post_id, actor)
        if isinstance(checked, Outcome):
            return checked
        return await self._lifecycle.act(
            checked, Action.MAKE_THREAD, actor, then=_clear_approvals, thread=True
        )
