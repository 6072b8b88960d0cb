"""The lifecycle (`services.lifecycle`): every edge of the transition table, every move the
table refuses, and what a move does besides (audit, card update, version binding)."""

from __future__ import annotations

import ast
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.errors import IllegalTransition
from services.lifecycle import TRANSITIONS, Action, Edge, Role, edge_for
from services.models import Actor, Post, PostStatus
from storage import Store, open_store, sqlite_url
from storage.models import NewPost
from tests.support.domain import Domain, domain_of

APPROVER = "U0APP"
REQUESTER = "U0REQ"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def domain(tmp_path: Path) -> AsyncIterator[Domain]:
    """The domain over a fresh database, with APPROVER as the approver."""
    store = await open_store(sqlite_url(tmp_path / "socialpost.db"))
    yield domain_of(store, APPROVER)
    await store.close()


async def stored(store: Store, status: PostStatus) -> Post:
    """An X post by REQUESTER in `status`, at version 1 (an approved one waits for its
    publish's next automatic try, so people's edges from there are open)."""
    waiting = datetime(2026, 1, 1, tzinfo=UTC) if status == PostStatus.APPROVED else None
    async with store.transaction() as tx:
        post, _ = await tx.posts.create(
            NewPost(
                id=str(uuid.uuid4()),
                platform="x",
                status=status,
                message="Hello",
                requester=REQUESTER,
                brief="say hello",
                next_try_at=waiting,
            )
        )
    return post


def actor_for(edge: Edge) -> Actor | None:
    """Who takes the edge: nobody for socialpost's own, else the approver, seeing v1."""
    return None if edge.role == Role.SYSTEM else Actor(user_id=APPROVER, seen_version=1)


EVERY_EDGE = [(edge, source) for edge in TRANSITIONS for source in sorted(edge.sources)]
NO_EDGE = [
    (action, status)
    for action in Action
    for status in PostStatus
    if action != Action.RETRY_JOB and edge_for(action, status) is None
]


@pytest.mark.parametrize(
    ("edge", "source"), EVERY_EDGE, ids=[f"{e.action}-from-{s}" for e, s in EVERY_EDGE]
)
async def test_every_edge_of_the_table_moves_the_post(
    domain: Domain, edge: Edge, source: PostStatus
) -> None:
    """Each edge takes a post in its source status to its target; a person's move is in the
    audit log with the edge's outcome, and an announced one queues the card update."""
    post = await stored(domain.store, source)
    async with domain.lifecycle.transaction() as tx:
        moved = await domain.lifecycle.move(tx, post, edge.action, actor_for(edge))
    assert moved is not None and moved.post.status == edge.target
    current = await domain.store.posts.get(post.id)
    assert current is not None and current.status == edge.target
    trail = [(e.action, e.outcome) for e in await domain.store.audit.for_post(post.id)]
    assert trail == ([] if edge.role == Role.SYSTEM else [(edge.action.value, edge.done)])
    cards = [job for job in await domain.store.jobs.for_post(post.id) if job.kind == "sync_card"]
    assert len(cards) == (1 if edge.announce else 0)
    assert moved.queued == tuple(job.id for job in cards)


@pytest.mark.parametrize(("action", "status"), NO_EDGE, ids=[f"{a}-from-{s}" for a, s in NO_EDGE])
async def test_a_move_the_table_lacks_is_refused_and_changes_nothing(
    domain: Domain, action: Action, status: PostStatus
) -> None:
    """Every (action, status) pair without an edge raises IllegalTransition; the post stays
    as it was."""
    post = await stored(domain.store, status)
    with pytest.raises(IllegalTransition):
        async with domain.lifecycle.transaction() as tx:
            await domain.lifecycle.move(tx, post, action, Actor(user_id=APPROVER, seen_version=1))
    current = await domain.store.posts.get(post.id)
    assert current is not None and current.status == status


async def test_socialpost_and_people_keep_to_their_own_edges(domain: Domain) -> None:
    """A person can't take socialpost's edge (drafted), socialpost can't take a person's
    (approve)."""
    generating = await stored(domain.store, PostStatus.GENERATING)
    pending = await stored(domain.store, PostStatus.PENDING)
    async with domain.lifecycle.transaction() as tx:
        with pytest.raises(IllegalTransition):
            await domain.lifecycle.move(tx, generating, Action.DRAFTED, Actor(user_id=APPROVER))
        with pytest.raises(IllegalTransition):
            await domain.lifecycle.move(tx, pending, Action.APPROVE, None)


async def test_a_person_the_policy_refuses_cannot_move_the_post(domain: Domain) -> None:
    """The requester's own approval (self-approval off), or a non-approver's, raises."""
    post = await stored(domain.store, PostStatus.PENDING)
    for user in (REQUESTER, "U0OUT"):
        with pytest.raises(IllegalTransition):
            async with domain.lifecycle.transaction() as tx:
                await domain.lifecycle.move(
                    tx, post, Action.APPROVE, Actor(user_id=user, seen_version=1)
                )
    current = await domain.store.posts.get(post.id)
    assert current is not None and current.status == PostStatus.PENDING


async def test_a_version_bound_move_on_a_changed_version_loses(domain: Domain) -> None:
    """Approving version 1 after an edit made it version 2 changes nothing (None), and the
    audit log says the click lost."""
    post = await stored(domain.store, PostStatus.PENDING)
    async with domain.store.transaction() as tx:
        await tx.posts.add_version(post.id, "Edited", "edited", author=REQUESTER)
    async with domain.lifecycle.transaction() as tx:
        moved = await domain.lifecycle.move(
            tx, post, Action.APPROVE, Actor(user_id=APPROVER, seen_version=1)
        )
    assert moved is None
    current = await domain.store.posts.get(post.id)
    assert current is not None and (current.status, current.version) == (PostStatus.PENDING, 2)
    trail = [(e.action, e.outcome) for e in await domain.store.audit.for_post(post.id)]
    assert trail == [("approve", "lost")]


async def test_a_move_from_a_status_the_post_has_left_loses(domain: Domain) -> None:
    """Two moves from the same read: the second finds the post moved on and returns None."""
    post = await stored(domain.store, PostStatus.APPROVED)
    async with domain.lifecycle.transaction() as tx:
        assert await domain.lifecycle.move(tx, post, Action.PUBLISHED) is not None
        assert await domain.lifecycle.move(tx, post, Action.PUBLISH_FAILED) is None


def test_nothing_but_the_lifecycle_changes_a_post_status() -> None:
    """`posts.transition` is called only by `services/lifecycle.py` (outside storage)."""
    callers = []
    for folder in ("bot", "handlers", "services"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and node.attr == "transition":
                    callers.append(str(path.relative_to(ROOT)))
    assert set(callers) == {"services/lifecycle.py"}
