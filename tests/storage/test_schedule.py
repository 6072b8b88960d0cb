"""Time on the card in storage: the new times round-trip, and scheduled posts list soonest
first (the contract suite: every backend)."""

from __future__ import annotations

import asyncio

from storage import Store
from storage.models import PostStatus
from tests.storage.support import at, new_post


async def test_the_times_of_a_post_round_trip_as_aware_utc(store: Store) -> None:
    """Requested, scheduled, awaiting, reminded, next-try and posted times, and the retry
    reason, are stored and read back as written."""
    post = await new_post(store, requested_for=at(3600))
    async with store.transaction() as tx:
        moved = await tx.posts.transition(
            post.id,
            [PostStatus.PENDING],
            PostStatus.SCHEDULED,
            scheduled_for=at(3600),
            awaiting_since=at(1),
            reminded_at=at(2),
            retry_reason="platform down: HTTP 503",
            next_try_at=at(5),
            posted_at=at(6),
        )
    assert moved is not None
    stored = await store.posts.get(post.id)
    assert stored is not None
    assert (stored.requested_for, stored.scheduled_for) == (at(3600), at(3600))
    assert (stored.awaiting_since, stored.reminded_at) == (at(1), at(2))
    assert (stored.retry_reason, stored.next_try_at, stored.posted_at) == (
        "platform down: HTTP 503",
        at(5),
        at(6),
    )


async def test_scheduled_posts_list_soonest_first(store: Store) -> None:
    """Only scheduled posts are listed, by their time (not by when they were scheduled)."""
    late = await new_post(store, PostStatus.SCHEDULED, scheduled_for=at(900))
    soon = await new_post(store, PostStatus.SCHEDULED, scheduled_for=at(60))
    await new_post(store, PostStatus.PENDING, scheduled_for=at(30))
    middle = await new_post(store, PostStatus.SCHEDULED, scheduled_for=at(300))
    listed = await store.posts.scheduled()
    assert [post.id for post in listed] == [soon.id, middle.id, late.id]
    assert [post.id for post in await store.posts.scheduled(limit=2)] == [soon.id, middle.id]


async def test_one_of_many_concurrent_moves_out_of_scheduled_wins(store: Store) -> None:
    """Unschedule, Post now and the publish job racing on one scheduled post: one wins."""
    post = await new_post(store, PostStatus.SCHEDULED, scheduled_for=at(60))
    targets = [PostStatus.PENDING, PostStatus.APPROVED, PostStatus.MISSED] * 6

    async def move(target: PostStatus) -> bool:
        async with store.transaction() as tx:
            moved = await tx.posts.transition(post.id, [PostStatus.SCHEDULED], target)
        return moved is not None

    won = await asyncio.gather(*(move(target) for target in targets))
    assert sum(won) == 1
    stored = await store.posts.get(post.id)
    assert stored is not None and stored.status == targets[won.index(True)]
