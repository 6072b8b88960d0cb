"""Who may move a post in time (`services.policy` on the lifecycle's new rows): Schedule…
like Approve, Unschedule / Post now / Retry now / Discard for approvers, Revive for editors,
and the answers for a post that is scheduled, expired or not waiting for a retry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lifecycle import Action, decided_verdict
from services.models import Actor, Post, PostStatus, Verdict
from services.policy import Policy

APPROVER = "U0APP"
REQUESTER = "U0REQ"
OUTSIDER = "U0OUT"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = Policy.of([APPROVER, REQUESTER], allow_self_approval=False)


def post(status: PostStatus, **fields: Any) -> Post:
    """A post by REQUESTER at version 1 in `status`."""
    values: dict[str, Any] = {
        "id": "p1",
        "status": status,
        "platform": "x",
        "requester": REQUESTER,
        "created_at": NOW,
        "updated_at": NOW,
        **fields,
    }
    return Post.model_validate(values)


def seen(user: str, version: int | None = 1) -> Actor:
    """`user`, having seen `version`."""
    return Actor(user_id=user, seen_version=version)


def test_schedule_follows_the_rules_of_approve() -> None:
    """Approvers schedule the version they saw; not their own; not an outsider."""
    pending = post(PostStatus.PENDING)
    assert POLICY.refusal(Action.SCHEDULE, seen(APPROVER), pending) is None
    assert POLICY.refusal(Action.SCHEDULE, seen(APPROVER, 2), pending) == Verdict.STALE_VERSION
    assert POLICY.refusal(Action.SCHEDULE, seen(REQUESTER), pending) == Verdict.OWN_POST
    assert POLICY.refusal(Action.SCHEDULE, seen(OUTSIDER), pending) == Verdict.NOT_APPROVER


def test_an_expired_post_answers_every_old_button_with_expired() -> None:
    """Approve, Schedule…, Reject and Edit on an expired post: "The post has expired."."""
    expired = post(PostStatus.EXPIRED)
    for action in (Action.APPROVE, Action.SCHEDULE, Action.REJECT, Action.EDIT):
        assert POLICY.refusal(action, seen(APPROVER), expired) == Verdict.EXPIRED


def test_revive_is_for_approvers_and_the_requester_only() -> None:
    """An approver or the requester revives an expired post; an outsider may not."""
    policy = Policy.of([APPROVER], allow_self_approval=False)
    expired = post(PostStatus.EXPIRED)
    assert policy.refusal(Action.REVIVE, seen(APPROVER, None), expired) is None
    assert policy.refusal(Action.REVIVE, seen(REQUESTER, None), expired) is None
    assert policy.refusal(Action.REVIVE, seen(OUTSIDER, None), expired) == Verdict.NOT_EDITOR


def test_discard_and_retry_now_only_while_a_publish_waits_for_its_next_try() -> None:
    """On an approved post, Discard and Retry now are open while it waits for a retry, and
    refused while a try is in flight."""
    waiting = post(PostStatus.APPROVED, next_try_at=NOW)
    trying = post(PostStatus.APPROVED)
    for action in (Action.DISCARD, Action.RETRY_NOW):
        assert POLICY.refusal(action, seen(APPROVER, None), waiting) is None
        assert POLICY.refusal(action, seen(APPROVER, None), trying) == Verdict.NOT_RETRYING
        assert POLICY.refusal(action, seen(OUTSIDER, None), waiting) == Verdict.NOT_APPROVER


def test_a_scheduled_post_offers_post_now_and_unschedule_to_approvers() -> None:
    """App Home's buttons for a scheduled post: Post now and Unschedule, approvers only."""
    scheduled = post(PostStatus.SCHEDULED, scheduled_for=NOW)
    assert POLICY.allowed_actions(APPROVER, scheduled) == {Action.POST_NOW, Action.UNSCHEDULE}
    assert POLICY.allowed_actions(OUTSIDER, scheduled) == frozenset()
    assert POLICY.refusal(Action.APPROVE, seen(APPROVER), scheduled) == Verdict.ALREADY_SCHEDULED


def test_a_missed_post_can_be_retried_or_discarded() -> None:
    """A post that missed its time offers Retry (post now) and Discard to approvers."""
    missed = post(PostStatus.MISSED, scheduled_for=NOW)
    assert {Action.RETRY, Action.DISCARD} <= POLICY.allowed_actions(APPROVER, missed)
    assert POLICY.refusal(Action.UNSCHEDULE, seen(APPROVER), missed) == Verdict.ALREADY_APPROVED


@given(st.sampled_from(list(PostStatus)), st.sampled_from(list(Action)))
def test_nobody_but_socialpost_takes_due_miss_or_expire(status: PostStatus, action: Action) -> None:
    """Due, miss and expire are socialpost's own: no person may take them from any status."""
    if action not in (Action.DUE, Action.MISS, Action.EXPIRE):
        return
    assert POLICY.refusal(action, seen(APPROVER), post(status)) is not None


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (PostStatus.SCHEDULED, Verdict.ALREADY_SCHEDULED),
        (PostStatus.EXPIRED, Verdict.EXPIRED),
        (PostStatus.MISSED, Verdict.ALREADY_APPROVED),
        (PostStatus.PENDING, None),
    ],
)
def test_a_decided_post_says_how(status: PostStatus, verdict: Verdict | None) -> None:
    """The answer to a late click names what happened to the post."""
    assert decided_verdict(status) == verdict
