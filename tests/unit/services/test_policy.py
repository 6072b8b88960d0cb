"""Who may do what to a post (`services.policy`): roles, versions, self-approval, and the
actions App Home and status offer, without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lifecycle import PEOPLES_ACTIONS, Action, Role, edge_for
from services.models import Actor, Post, PostStatus, Verdict
from services.policy import Policy

APPROVER = "U0APP"
REQUESTER = "U0REQ"
OUTSIDER = "U0OUT"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def post(status: PostStatus = PostStatus.PENDING, **fields: Any) -> Post:
    """A post by REQUESTER at version 1 in `status`."""
    values: dict[str, Any] = {
        "id": "p1",
        "status": status,
        "platform": "x",
        "message": "Hello",
        "requester": REQUESTER,
        "created_at": NOW,
        "updated_at": NOW,
        **fields,
    }
    return Post.model_validate(values)


POLICY = Policy.of([APPROVER], allow_self_approval=False)


def seen(user: str, version: int = 1) -> Actor:
    """`user`, having seen `version`."""
    return Actor(user_id=user, seen_version=version)


def test_an_approver_may_take_every_decision_on_a_pending_post_of_someone_else() -> None:
    """Approve, schedule, reject, edit, regenerate and thread: all allowed for an approver
    who didn't write the draft."""
    allowed = POLICY.allowed_actions(APPROVER, post())
    assert allowed == {
        Action.APPROVE,
        Action.SCHEDULE,
        Action.REJECT,
        Action.EDIT,
        Action.REGENERATE,
        Action.MAKE_THREAD,
    }


def test_the_requester_edits_but_does_not_decide() -> None:
    """A requester who isn't an approver may change the draft, not approve or reject it."""
    assert POLICY.refusal(Action.APPROVE, seen(REQUESTER), post()) == Verdict.NOT_APPROVER
    assert POLICY.refusal(Action.REJECT, seen(REQUESTER), post()) == Verdict.NOT_APPROVER
    assert POLICY.allowed_actions(REQUESTER, post()) == {
        Action.EDIT,
        Action.REGENERATE,
        Action.MAKE_THREAD,
    }


def test_an_outsider_may_do_nothing() -> None:
    """Neither approver nor requester: every action is refused, those the post's status
    allows for the role they need."""
    for action in PEOPLES_ACTIONS:
        assert POLICY.refusal(action, seen(OUTSIDER), post()) is not None, action
    assert POLICY.refusal(Action.APPROVE, seen(OUTSIDER), post()) == Verdict.NOT_APPROVER
    assert POLICY.refusal(Action.EDIT, seen(OUTSIDER), post()) == Verdict.NOT_EDITOR
    assert POLICY.allowed_actions(OUTSIDER, post()) == frozenset()


@pytest.mark.parametrize("writer", ["requester", "edited_by"])
def test_whoever_wrote_the_current_version_may_not_approve_it(writer: str) -> None:
    """The requester, or the last editor, of the version can't approve it (but may reject);
    with self-approval allowed they may."""
    own = post(**{writer: APPROVER})
    assert POLICY.refusal(Action.APPROVE, seen(APPROVER), own) == Verdict.OWN_POST
    assert POLICY.refusal(Action.REJECT, seen(APPROVER), own) is None
    assert Action.APPROVE not in POLICY.allowed_actions(APPROVER, own)
    lenient = Policy.of([APPROVER], allow_self_approval=True)
    assert lenient.refusal(Action.APPROVE, seen(APPROVER), own) is None


def test_a_version_bound_action_is_refused_for_a_version_not_shown() -> None:
    """Approve, reject, edit, regenerate, thread: stale when the actor saw another version
    (or none); retry and discard aren't bound to a version."""
    current = post(version=2)
    for action in (Action.APPROVE, Action.REJECT, Action.EDIT, Action.REGENERATE):
        assert POLICY.refusal(action, seen(APPROVER, 1), current) == Verdict.STALE_VERSION
        assert POLICY.refusal(action, Actor(user_id=APPROVER), current) == Verdict.STALE_VERSION
    failed = post(PostStatus.FAILED_POST, version=2)
    assert POLICY.refusal(Action.RETRY, Actor(user_id=APPROVER), failed) is None


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (PostStatus.APPROVED, Verdict.ALREADY_APPROVED),
        (PostStatus.POSTED, Verdict.ALREADY_APPROVED),
        (PostStatus.FAILED_POST, Verdict.ALREADY_APPROVED),
        (PostStatus.REJECTED, Verdict.ALREADY_REJECTED),
        (PostStatus.GENERATING, Verdict.NOT_READY),
        (PostStatus.FAILED_GENERATION, Verdict.NOT_READY),
    ],
)
def test_approving_a_post_that_is_not_pending_says_why(
    status: PostStatus, verdict: Verdict
) -> None:
    """Already decided (approved, published, failed to publish, rejected) or not ready."""
    assert POLICY.refusal(Action.APPROVE, seen(APPROVER), post(status)) == verdict


def test_retry_and_discard_need_a_failed_post() -> None:
    """On a pending post, Retry and Discard are refused as not failed; editing something
    being drafted is refused as not editable."""
    assert POLICY.refusal(Action.RETRY, seen(APPROVER), post()) == Verdict.NOT_FAILED
    assert POLICY.refusal(Action.DISCARD, seen(APPROVER), post()) == Verdict.NOT_FAILED
    generating = post(PostStatus.GENERATING)
    assert POLICY.refusal(Action.EDIT, seen(APPROVER), generating) == Verdict.NOT_EDITABLE


@pytest.mark.parametrize(
    ("status", "approver", "requester"),
    [
        (PostStatus.FAILED_POST, {Action.RETRY, Action.DISCARD}, set()),
        (PostStatus.FAILED_GENERATION, {Action.RETRY, Action.DISCARD}, {Action.RETRY}),
        (PostStatus.FAILED_APPROVAL_SEND, {Action.RETRY, Action.DISCARD}, {Action.RETRY}),
    ],
)
def test_who_may_retry_and_discard_a_failure(
    status: PostStatus, approver: set[Action], requester: set[Action]
) -> None:
    """A failed publish is retried by approvers only; a failed draft or an undelivered card
    also by the requester; only approvers discard."""
    failed = post(status)
    assert POLICY.allowed_actions(APPROVER, failed) == approver
    assert POLICY.allowed_actions(REQUESTER, failed) == requester
    assert POLICY.allowed_actions(OUTSIDER, failed) == frozenset()


def test_without_approvers_everyone_approves_but_not_their_own() -> None:
    """An empty SOCIALPOST_APPROVERS makes everyone an approver; the self-approval rule
    still holds."""
    open_policy = Policy.of([], allow_self_approval=False)
    assert open_policy.is_approver(OUTSIDER) and open_policy.may_retry_jobs(OUTSIDER)
    assert Action.APPROVE in open_policy.allowed_actions(OUTSIDER, post())
    assert Action.APPROVE not in open_policy.allowed_actions(REQUESTER, post())


def test_only_approvers_retry_dead_jobs() -> None:
    """App Home's Retry on a dead job is for approvers."""
    assert POLICY.may_retry_jobs(APPROVER) and not POLICY.may_retry_jobs(REQUESTER)


@given(
    status=st.sampled_from(PostStatus),
    user=st.sampled_from([APPROVER, REQUESTER, OUTSIDER]),
    edited_by=st.sampled_from([None, APPROVER, REQUESTER]),
    allow_self=st.booleans(),
)
def test_allowed_actions_are_edges_the_user_holds_the_role_for(
    status: PostStatus, user: str, edited_by: str | None, allow_self: bool
) -> None:
    """Whatever the post and the viewer, every allowed action is an edge of the table from
    the post's status, taken by a person whose role the viewer holds."""
    policy = Policy.of([APPROVER], allow_self_approval=allow_self)
    current = post(status, edited_by=edited_by)
    for action in policy.allowed_actions(user, current):
        edge = edge_for(action, status)
        assert edge is not None and edge.role != Role.SYSTEM
        assert policy.holds(user, edge.role, current)
