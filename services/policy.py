"""Who may do what to a post, and when: the one answer everything asks.

Approvers (SOCIALPOST_APPROVERS: user IDs, and members of user groups as the Slack layer last
resolved them, `services.approvals`; everyone when it is empty) approve, reject, retry a failed
publish, discard, and retry dead jobs. SOCIALPOST_REQUIRED_APPROVALS distinct approvers must
approve a version before it moves on (`rule`). Editors (approvers and the post's requester) edit,
regenerate and make a thread of a pending draft, and retry a failed draft or an undelivered
card. Whoever wrote the current version (the requester, or the last person who edited it)
may not approve it unless SOCIALPOST_ALLOW_SELF_APPROVAL. A version-bound action is only for
the version the person was shown.

The decisions and edits ask `refusal` before they move a post; App Home and
`/socialpost status` ask `allowed_actions` for the buttons they show, so nothing writes the
rules again.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from services.approvals import (
    ApprovalRule,
    ApprovalState,
    Approvers,
    GroupMembers,
    NoGroups,
    approval_state,
)
from services.lifecycle import PEOPLES_ACTIONS, Action, Role, decided_verdict, edge_for, edges_of
from services.models import Actor, Verdict
from storage.models import Approval, Post, PostStatus

# The answer when a post is in no status the action starts from (and isn't decided).
NOT_NOW = {
    Action.APPROVE: Verdict.NOT_READY,
    Action.REJECT: Verdict.NOT_READY,
    Action.RETRY: Verdict.NOT_FAILED,
    Action.DISCARD: Verdict.NOT_FAILED,
    Action.EDIT: Verdict.NOT_EDITABLE,
    Action.REGENERATE: Verdict.NOT_EDITABLE,
    Action.MAKE_THREAD: Verdict.NOT_EDITABLE,
    Action.SCHEDULE: Verdict.NOT_READY,
    Action.UNSCHEDULE: Verdict.NOT_SCHEDULED,
    Action.POST_NOW: Verdict.NOT_SCHEDULED,
    Action.RETRY_NOW: Verdict.NOT_RETRYING,
    Action.REVIVE: Verdict.NOT_EXPIRED,
}


def _role_of(action: Action) -> Role | None:
    """The role every edge of `action` needs, if they agree (retry's edges don't)."""
    roles = {edge.role for edge in edges_of(action)}
    return roles.pop() if len(roles) == 1 else None


@dataclass(frozen=True)
class Policy:
    """The approvers (user IDs and user groups, whose members `members` knows), whether
    they may approve what they wrote themselves, and how many must approve."""

    approvers: frozenset[str]
    allow_self_approval: bool
    members: GroupMembers = field(default_factory=NoGroups, compare=False)
    required_approvals: int = 1

    @classmethod
    def of(
        cls,
        approvers: Collection[str],
        *,
        allow_self_approval: bool,
        members: GroupMembers | None = None,
        required_approvals: int = 1,
    ) -> Policy:
        """The policy for these approvers (none: everyone approves)."""
        return cls(
            frozenset(approvers), allow_self_approval, members or NoGroups(), required_approvals
        )

    @functools.cached_property
    def roster(self) -> Approvers:
        """Who approves, groups resolved through `members` at each question."""
        return Approvers.of(sorted(self.approvers), self.members)

    @functools.cached_property
    def rule(self) -> ApprovalRule:
        """How many distinct approvers a version needs, and whether its writers count."""
        return ApprovalRule(self.required_approvals, self.allow_self_approval)

    def is_approver(self, user_id: str) -> bool:
        """Whether the user approves, rejects, retries and discards."""
        return self.roster.is_approver(user_id)

    def approvals_of(self, post: Post, approvals: Iterable[Approval]) -> ApprovalState:
        """What the post's card (and App Home) say about its approvals, from every approval
        recorded for it: the current version's that count now, and whose the latest change
        cleared."""
        return approval_state(
            self.rule, approvals, post.version, self.writers(post), eligible=self.is_approver
        )

    def writers(self, post: Post) -> tuple[str | None, ...]:
        """Who wrote the version the post is at (they don't count as its approvers)."""
        return (post.requester, post.edited_by)

    def is_editor(self, user_id: str, post: Post) -> bool:
        """Approvers and the requester edit and regenerate the post."""
        return self.is_approver(user_id) or user_id == post.requester

    def wrote_current_version(self, user_id: str, post: Post) -> bool:
        """Whether the user wrote the version the post is at: asked for it, or last edited
        it."""
        return user_id in self.writers(post)

    def holds(self, user_id: str, role: Role, post: Post) -> bool:
        """Whether the user has `role` for this post (nobody is socialpost itself)."""
        if role == Role.APPROVER:
            return self.is_approver(user_id)
        if role == Role.EDITOR:
            return self.is_editor(user_id, post)
        return False

    def refusal(self, action: Action, actor: Actor, post: Post) -> Verdict | None:
        """Why `actor` may not take `action` on the post now (None: they may).

        In this order: the role the action needs, then the post's status (already decided,
        or not one the action starts from), then the version the actor saw, then the
        self-approval rule.
        """
        edge = edge_for(action, post.status)
        role = edge.role if edge is not None else _role_of(action)
        if role == Role.APPROVER and not self.is_approver(actor.user_id):
            return Verdict.NOT_APPROVER
        if role == Role.EDITOR and not self.is_editor(actor.user_id, post):
            return Verdict.NOT_EDITOR
        if edge is None or edge.role == Role.SYSTEM:
            return decided_verdict(post.status) or NOT_NOW.get(action, Verdict.NOT_READY)
        if edge.versioned and actor.seen_version != post.version:
            return Verdict.STALE_VERSION
        if post.status == PostStatus.APPROVED and post.next_try_at is None:
            # Discard and Retry now only while a publish waits for its next automatic try.
            return Verdict.NOT_RETRYING
        if (
            edge.self_approval
            and not self.allow_self_approval
            and self.wrote_current_version(actor.user_id, post)
        ):
            return Verdict.OWN_POST
        return None

    def allowed_actions(self, user_id: str, post: Post) -> frozenset[Action]:
        """What `user_id` may do to the post as it is now (seeing its current version)."""
        actor = Actor(user_id=user_id, seen_version=post.version)
        return frozenset(a for a in PEOPLES_ACTIONS if self.refusal(a, actor, post) is None)

    def may_retry_jobs(self, user_id: str) -> bool:
        """Whether the user may run a dead job again (App Home)."""
        return self.is_approver(user_id)
