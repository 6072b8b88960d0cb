"""Approval decisions racing on one post (and on its version), retrying dead jobs, and the
audit trail they leave (over a real store)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.models import Actor, CardRef, Verdict
from services.platforms.publish import PUBLISH
from storage import Store, open_store, sqlite_url
from storage.models import JobStatus, NewJob, NewPost, PostStatus
from tests.support.domain import Domain, domain_of


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh database."""
    opened = await open_store(sqlite_url(tmp_path / "socialpost.db"))
    yield opened
    await opened.close()


async def pending_post(store: Store, requester: str = "U0REQ") -> str:
    """Store a pending X post and return its id."""
    post_id = str(uuid.uuid4())
    async with store.transaction() as tx:
        await tx.posts.create(
            NewPost(
                id=post_id,
                platform="x",
                status=PostStatus.PENDING,
                request_id=f"V{post_id}",
                message="Hello world",
                requester=requester,
                brief="say hello",
            )
        )
    return post_id


def approval(store: Store, *approvers: str) -> Domain:
    """The domain over `store` (its worker isn't running: jobs just queue up); without
    `approvers`, everyone is one."""
    return domain_of(store, *approvers)


async def test_fifty_concurrent_approvals_have_one_winner(store: Store) -> None:
    """50 approve claims racing on one pending post: exactly one wins, one publish is queued."""
    post_id = await pending_post(store)
    service = approval(store)
    outcomes = await asyncio.gather(
        *(
            service.decisions.approve(post_id, Actor(user_id=f"U{i:03d}", seen_version=1))
            for i in range(50)
        )
    )
    verdicts = [o.verdict for o in outcomes]
    assert verdicts.count(Verdict.DONE) == 1
    assert verdicts.count(Verdict.ALREADY_APPROVED) == 49
    jobs = await store.jobs.for_post(post_id)
    assert [job.kind for job in jobs].count("publish") == 1
    post = await store.posts.get(post_id)
    assert post is not None and post.status == PostStatus.APPROVED


async def test_approve_and_reject_race_has_one_winner(store: Store) -> None:
    """Approve and reject racing on one post: exactly one of them happens."""
    for _ in range(10):
        post_id = await pending_post(store)
        service = approval(store)
        approved, rejected = await asyncio.gather(
            service.decisions.approve(post_id, Actor(user_id="U1", seen_version=1)),
            service.decisions.reject(post_id, Actor(user_id="U2", seen_version=1)),
        )
        assert [approved.done, rejected.done].count(True) == 1
        post = await store.posts.get(post_id)
        assert post is not None
        if approved.done:
            assert post.status == PostStatus.APPROVED
            assert rejected.verdict == Verdict.ALREADY_APPROVED
        else:
            assert post.status == PostStatus.REJECTED
            assert approved.verdict == Verdict.ALREADY_REJECTED


async def test_the_publish_waits_for_the_card_update_queued_with_it(store: Store) -> None:
    """Approving queues a card update and a publish that waits for that card job's first try."""
    post_id = await pending_post(store)
    assert (
        await approval(store).decisions.approve(post_id, Actor(user_id="U0APP", seen_version=1))
    ).done
    jobs = {job.kind: job for job in await store.jobs.for_post(post_id)}
    assert jobs["publish"].after_job_id == jobs["sync_card"].id
    assert (jobs["publish"].key, jobs["sync_card"].key) == (
        f"publish:{post_id}",
        f"sync_card:{post_id}",
    )


async def test_every_decision_and_refusal_is_audited(store: Store) -> None:
    """The audit log has who did or tried what to which post, from which card."""
    post_id = await pending_post(store, requester="U0REQ")
    service = approval(store)
    own = await service.decisions.approve(
        post_id, Actor(user_id="U0REQ", card=CardRef(place="C1", id="1.1"), seen_version=1)
    )
    done = await service.decisions.approve(
        post_id, Actor(user_id="U0APP", card=CardRef(place="C1", id="1.1"), seen_version=1)
    )
    assert (own.verdict, done.verdict) == (Verdict.OWN_POST, Verdict.DONE)
    trail = await store.audit.for_post(post_id)
    assert [(e.actor, e.action, e.outcome) for e in trail] == [
        ("U0REQ", "approve", "refused:own_post"),
        ("U0APP", "approve", "approved"),
    ]
    assert trail[1].channel == "C1"


async def test_an_approval_racing_an_edit_never_approves_the_unseen_text(store: Store) -> None:
    """Approvals for version 1 racing an edit to version 2: either the approval won (the
    approved text is version 1) or it is refused as stale; never version 2 approved."""
    for _ in range(10):
        post_id = await pending_post(store)
        service = approval(store)
        approved, edited = await asyncio.gather(
            service.decisions.approve(post_id, Actor(user_id="U0APP", seen_version=1)),
            service.editing.edit(post_id, Actor(user_id="U0REQ", seen_version=1), "Unseen text"),
        )
        post = await store.posts.get(post_id)
        assert post is not None
        assert [approved.done, edited.done].count(True) == 1
        if approved.done:
            assert (post.status, post.message, post.version) == (
                PostStatus.APPROVED,
                "Hello world",
                1,
            )
        else:
            assert approved.verdict == Verdict.STALE_VERSION
            assert (post.status, post.message, post.version) == (
                PostStatus.PENDING,
                "Unseen text",
                2,
            )


LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


async def failed_post_with_dead_publish(store: Store) -> tuple[str, int]:
    """A post whose publish failed for good: status failed_post, its publish job dead."""
    post_id = await pending_post(store)
    async with store.transaction() as tx:
        await tx.posts.transition(post_id, [PostStatus.PENDING], PostStatus.FAILED_POST)
        await tx.jobs.enqueue(NewJob(kind=PUBLISH, post_id=post_id, run_at=LONG_AGO))
        # Claimed as of long ago: only this job is due then, not the cards queued since.
        (job,) = await tx.jobs.claim_due(
            now=LONG_AGO, limit=10, lease=timedelta(seconds=30), owner="test"
        )
        assert await tx.jobs.bury(job.id, owner="test", queue="dlq_publish", error="down")
    return post_id, job.id


async def test_retrying_a_dead_job_needs_an_approver_and_refusals_are_audited(
    store: Store,
) -> None:
    """A non-approver's Retry on a dead job is refused before the job is even looked up
    (an unknown id gets the same answer), and each refusal is in the audit log."""
    _, job_id = await failed_post_with_dead_publish(store)
    service = approval(store, "U0APP")
    outsider = Actor(user_id="U0OUT")
    assert (await service.decisions.retry_job(job_id, outsider)).verdict == Verdict.NOT_APPROVER
    assert (await service.decisions.retry_job(999999, outsider)).verdict == Verdict.NOT_APPROVER
    assert (await service.decisions.retry_job(999999, Actor(user_id="U0APP"))).verdict == (
        Verdict.NOT_FAILED
    )
    trail = [(e.actor, e.action, e.outcome, e.detail) for e in reversed(await store.audit.recent())]
    assert trail == [
        ("U0OUT", "retry_job", "refused:not_approver", f"job {job_id}"),
        ("U0OUT", "retry_job", "refused:not_approver", "job 999999"),
        ("U0APP", "retry_job", "refused:not_failed", "job 999999"),
    ]
    (job,) = await store.jobs.with_status(JobStatus.DEAD)
    assert job.id == job_id


async def test_retrying_the_dead_publish_of_a_discarded_post_says_so(store: Store) -> None:
    """Once the failed post was discarded, Retry on its dead publish job is refused as
    discarded and revives nothing; before that, it publishes the post again."""
    post_id, job_id = await failed_post_with_dead_publish(store)
    service = approval(store)
    approver = Actor(user_id="U0APP")
    assert (await service.decisions.discard(post_id, approver)).done
    refused = await service.decisions.retry_job(job_id, approver)
    assert refused.verdict == Verdict.DISCARDED
    assert [job.kind for job in await store.jobs.with_status(JobStatus.QUEUED)] == ["sync_card"]

    other_id, other_job = await failed_post_with_dead_publish(store)
    retried = await service.decisions.retry_job(other_job, approver)
    assert retried.done
    post = await store.posts.get(other_id)
    assert post is not None and post.status == PostStatus.APPROVED
    queued = [(j.kind, j.post_id) for j in await store.jobs.with_status(JobStatus.QUEUED)]
    assert (PUBLISH, other_id) in queued
