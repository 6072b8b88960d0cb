"""Approvals of posts' versions: recorded once per person and version, cleared as history,
and counted under concurrent clicks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from storage import Store
from storage.models import PostStatus
from tests.storage.support import new_post


async def test_an_approval_is_recorded_once_per_person_and_version(store: Store) -> None:
    """The same approver approving a version twice is one approval; another version or
    another person is another one."""
    post = await new_post(store, version=1)
    async with store.transaction() as tx:
        assert await tx.approvals.add(post.id, 1, "U0ANN")
        assert not await tx.approvals.add(post.id, 1, "U0ANN")
        assert await tx.approvals.add(post.id, 1, "U0BOB")
        assert await tx.approvals.add(post.id, 2, "U0ANN")
        assert await tx.approvals.standing(post.id, 1) == ["U0ANN", "U0BOB"]
    assert await store.approvals.standing(post.id, 1) == ["U0ANN", "U0BOB"]
    assert await store.approvals.standing(post.id, 2) == ["U0ANN"]
    assert await store.approvals.standing(post.id, 3) == []
    history = await store.approvals.for_post(post.id)
    assert [(a.version, a.approver, a.cleared_at) for a in history] == [
        (1, "U0ANN", None),
        (1, "U0BOB", None),
        (2, "U0ANN", None),
    ]
    assert all(a.approved_at.tzinfo is not None for a in history)


async def test_clearing_keeps_the_history_and_lets_people_approve_again(store: Store) -> None:
    """Clearing stamps every standing approval (none stands after it), says whose they
    were, keeps them as history, and a person may approve the same version again."""
    post = await new_post(store, version=1)
    async with store.transaction() as tx:
        await tx.approvals.add(post.id, 1, "U0ANN")
        await tx.approvals.add(post.id, 1, "U0BOB")
    async with store.transaction() as tx:
        assert await tx.approvals.clear(post.id) == ["U0ANN", "U0BOB"]
        assert await tx.approvals.clear(post.id) == []
    assert await store.approvals.standing(post.id, 1) == []
    async with store.transaction() as tx:
        assert await tx.approvals.add(post.id, 1, "U0ANN")
    history = await store.approvals.for_post(post.id)
    assert [(a.approver, a.cleared_at is not None) for a in history] == [
        ("U0ANN", True),
        ("U0BOB", True),
        ("U0ANN", False),
    ]


async def test_a_rolled_back_approval_is_not_recorded(store: Store) -> None:
    """An approval in a transaction that fails is not kept."""
    post = await new_post(store, version=1)
    try:
        async with store.transaction() as tx:
            await tx.approvals.add(post.id, 1, "U0ANN")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert await store.approvals.standing(post.id, 1) == []


async def test_the_same_approver_at_once_from_many_transactions_counts_once(
    store: Store,
) -> None:
    """Many concurrent transactions adding one person's approval of one version record it
    once: exactly one of them is told it was new."""
    post = await new_post(store, version=1)

    async def approve() -> bool:
        async with store.transaction() as tx:
            return await tx.approvals.add(post.id, 1, "U0ANN")

    added = await asyncio.gather(*(approve() for _ in range(20)))
    assert added.count(True) == 1
    assert await store.approvals.standing(post.id, 1) == ["U0ANN"]


async def test_concurrent_approvals_held_on_the_post_complete_it_once(store: Store) -> None:
    """Approvers who each hold the post (a version-bound update) before adding their approval
    see every approval committed before theirs: of many at once on a post needing two, exactly
    one sees the second approval and moves the post, and nobody after it gets in."""
    posts = [await new_post(store, version=1) for _ in range(5)]
    approvers = [f"U0A{n}" for n in range(6)]

    async def approve(post_id: str, approver: str) -> str:
        async with store.transaction() as tx:
            held = await tx.posts.update(post_id, only_if=[PostStatus.PENDING], version=1)
            if held is None:
                return "late"
            await tx.approvals.add(post_id, 1, approver)
            if len(await tx.approvals.standing(post_id, 1)) < 2:
                return "recorded"
            moved = await tx.posts.transition(
                post_id, [PostStatus.PENDING], PostStatus.APPROVED, version=1, approved_by=approver
            )
            return "approved" if moved else "lost"

    results = await asyncio.gather(*(approve(p.id, a) for p in posts for a in approvers))
    for index, post in enumerate(posts):
        mine = results[index * len(approvers) : (index + 1) * len(approvers)]
        assert mine.count("approved") == 1
        assert mine.count("recorded") == 1
        assert "lost" not in mine
        stored = await store.posts.get(post.id)
        assert stored is not None and stored.status == PostStatus.APPROVED
        assert len(await store.approvals.standing(post.id, 1)) == 2


async def test_a_schedule_approval_keeps_its_time_and_many_posts_read_at_once(
    store: Store,
) -> None:
    """An approval may carry the time its Schedule… chose (stored aware); approvals of
    several posts are read in one go, each post's oldest first, posts without any absent."""
    first, second, none = [await new_post(store, version=1) for _ in range(3)]
    at = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    async with store.transaction() as tx:
        await tx.approvals.add(first.id, 1, "U0ANN", at)
        await tx.approvals.add(first.id, 1, "U0BOB")
        await tx.approvals.add(second.id, 1, "U0CAT")
    found = await store.approvals.for_posts([first.id, second.id, none.id])
    assert set(found) == {first.id, second.id}
    assert [(a.approver, a.post_at) for a in found[first.id]] == [("U0ANN", at), ("U0BOB", None)]
    assert [a.approver for a in found[second.id]] == ["U0CAT"]
    assert await store.approvals.for_posts([]) == {}
