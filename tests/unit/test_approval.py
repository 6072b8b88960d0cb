"""Approval decisions racing on one post, and the audit trail they leave (over a real store)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.approval import Actor, ApprovalPolicy, ApprovalService, Verdict
from services.drafting import Drafter, DraftingService
from services.llm import LLMClient
from services.models import Deployment
from services.outbox import Outbox
from services.ratelimit import RateLimiter
from services.tasks import BackgroundTasks
from storage import Store, open_store, sqlite_url
from storage.models import NewPost, PostStatus


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


def approval(store: Store) -> ApprovalService:
    """The approval service over `store` (its worker isn't running: jobs just queue up)."""
    outbox = Outbox(store, max_attempts=3, base_delay=0.01, max_delay=0.1, lease=5)
    policy = ApprovalPolicy(approvers=frozenset(), allow_self_approval=False)
    llm = LLMClient([Deployment(name="unused", model="openai/unused")], timeout=1, cooldown=1)
    drafting = DraftingService(store, Drafter(llm, brand_voice=None), outbox, BackgroundTasks())
    limiter = RateLimiter(
        user_capacity=5, user_per_seconds=60, workspace_capacity=100, workspace_per_seconds=60
    )
    return ApprovalService(store, outbox, policy, drafting, limiter)


async def test_fifty_concurrent_approvals_have_one_winner(store: Store) -> None:
    """50 approve claims racing on one pending post: exactly one wins, one publish is queued."""
    post_id = await pending_post(store)
    service = approval(store)
    outcomes = await asyncio.gather(
        *(service.approve(post_id, Actor(user_id=f"U{i:03d}")) for i in range(50))
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
            service.approve(post_id, Actor(user_id="U1")),
            service.reject(post_id, Actor(user_id="U2")),
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
    assert (await approval(store).approve(post_id, Actor(user_id="U0APP"))).done
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
    own = await service.approve(post_id, Actor(user_id="U0REQ", channel="C1", message_ts=None))
    done = await service.approve(post_id, Actor(user_id="U0APP", channel="C1", message_ts=None))
    assert (own.verdict, done.verdict) == (Verdict.OWN_POST, Verdict.DONE)
    trail = await store.audit.for_post(post_id)
    assert [(e.actor, e.action, e.outcome) for e in trail] == [
        ("U0REQ", "approve", "refused:own_post"),
        ("U0APP", "approve", "approved"),
    ]
    assert trail[1].channel == "C1"
