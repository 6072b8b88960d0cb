"""Posts: creation, idempotent requests, conditional transitions and updates, versions,
publishing steps, listings, platforms, and aware UTC times."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError
from sqlalchemy.exc import StatementError

from storage import Store
from storage.models import NewPost, PostStatus
from tests.storage.conftest import Backend
from tests.storage.support import T0, new_post


async def test_create_stores_every_field_and_reads_it_back(store: Store) -> None:
    """A created post comes back with its fields, its platform slug and aware UTC times."""
    post = await new_post(
        store, PostStatus.GENERATING, platform="linkedin", tone="bold", thread=True, version=0
    )
    stored = await store.posts.get(post.id)
    assert stored == post
    assert (post.platform, post.status, post.tone, post.thread, post.version) == (
        "linkedin",
        PostStatus.GENERATING,
        "bold",
        True,
        0,
    )
    assert post.created_at.tzinfo is UTC and post.updated_at == post.created_at
    assert await store.posts.get(str(uuid.uuid4())) is None


async def test_a_request_makes_one_post_per_platform_however_often_it_is_created(
    store: Store,
) -> None:
    """Creating again with the same request and platform returns the first post; another
    platform of the request gets its own; `for_request` lists them in creation order."""
    async with store.transaction() as tx:
        first, created = await tx.posts.create(
            NewPost(id="p1", platform="x", status=PostStatus.GENERATING, request_id="R1")
        )
        again, created_again = await tx.posts.create(
            NewPost(id="p2", platform="x", status=PostStatus.GENERATING, request_id="R1")
        )
        _other, created_other = await tx.posts.create(
            NewPost(id="p3", platform="linkedin", status=PostStatus.GENERATING, request_id="R1")
        )
    assert (created, created_again, created_other) == (True, False, True)
    assert again.id == first.id == "p1" and first.request_key == "R1:x"
    assert [post.id for post in await store.posts.for_request("R1")] == ["p1", "p3"]
    assert await store.posts.for_request("R") == []
    assert await store.posts.get("p2") is None


async def test_create_refuses_an_unknown_platform(store: Store) -> None:
    """A post for a platform nobody registered is refused."""
    with pytest.raises(ValueError, match="unknown platform"):
        async with store.transaction() as tx:
            await tx.posts.create(NewPost(id="p", platform="myspace", status=PostStatus.PENDING))


async def test_transition_moves_only_from_the_given_statuses(store: Store) -> None:
    """A transition from the post's status moves it and sets the fields; from another
    status it changes nothing and returns None."""
    post = await new_post(store)
    async with store.transaction() as tx:
        lost = await tx.posts.transition(post.id, [PostStatus.APPROVED], PostStatus.POSTED)
        moved = await tx.posts.transition(
            post.id,
            [PostStatus.GENERATING, PostStatus.PENDING],
            PostStatus.APPROVED,
            approved_by="U0APP",
            approved_at=T0,
        )
    assert lost is None
    assert moved is not None and moved.status == PostStatus.APPROVED
    assert (moved.approved_by, moved.approved_at) == ("U0APP", T0)
    assert moved.updated_at > post.updated_at
    assert await store.posts.get(post.id) == moved


async def test_transition_and_update_can_require_the_version(store: Store) -> None:
    """With `version`, a transition or update applies only to that version of the post."""
    post = await new_post(store)
    async with store.transaction() as tx:
        assert (
            await tx.posts.transition(post.id, [PostStatus.PENDING], PostStatus.APPROVED, version=2)
            is None
        )
        assert await tx.posts.update(post.id, version=2, thread=True) is None
        updated = await tx.posts.update(post.id, version=1, thread=True)
        moved = await tx.posts.transition(
            post.id, [PostStatus.PENDING], PostStatus.APPROVED, version=1
        )
    assert updated is not None and updated.thread
    assert moved is not None and moved.status == PostStatus.APPROVED


async def test_update_sets_fields_only_in_the_given_statuses(store: Store) -> None:
    """`update` keeps the status; `only_if` limits it to some statuses."""
    post = await new_post(store)
    async with store.transaction() as tx:
        assert await tx.posts.update(post.id, only_if=[PostStatus.APPROVED], tone="x") is None
        updated = await tx.posts.update(post.id, channel="C1", message_ts="1.2")
        assert await tx.posts.update(str(uuid.uuid4()), channel="C1") is None
    assert updated is not None
    assert (updated.status, updated.channel, updated.message_ts) == (
        PostStatus.PENDING,
        "C1",
        "1.2",
    )


@pytest.mark.parametrize("column", ["status", "request_key", "id", "created_at", "nonsense"])
async def test_only_writable_columns_can_be_set(store: Store, column: str) -> None:
    """Ids, status, keys and timestamps are storage's to manage: setting them is refused."""
    post = await new_post(store)
    with pytest.raises(ValueError, match="not writable"):
        async with store.transaction() as tx:
            await tx.posts.update(post.id, **{column: "x"})


async def test_add_version_makes_the_next_version_and_keeps_the_history(store: Store) -> None:
    """Each new version raises the post's version by one, becomes its message, and the
    history keeps every version with its source and author, oldest first."""
    post = await new_post(store, PostStatus.GENERATING, version=0, message=None)
    async with store.transaction() as tx:
        first = await tx.posts.add_version(post.id, "One", "generated", llm_model="m")
        second = await tx.posts.add_version(post.id, "Two", "edited", author="U0ED")
        assert await tx.posts.add_version(str(uuid.uuid4()), "x", "edited") is None
    assert first is not None and (first.version, first.message) == (1, "One")
    assert second is not None and (second.version, second.message) == (2, "Two")
    history = await store.posts.versions(post.id)
    assert [(v.version, v.message, v.source, v.author, v.llm_model) for v in history] == [
        (1, "One", "generated", None, "m"),
        (2, "Two", "edited", "U0ED", None),
    ]
    assert history[0].created_at.tzinfo is UTC


async def test_publish_steps_are_remembered_and_overwritten(store: Store) -> None:
    """A publishing step is stored with the platform's id; saving it again replaces the id."""
    post = await new_post(store, PostStatus.APPROVED)
    async with store.transaction() as tx:
        await tx.posts.add_publish_step(post.id, "part:1", "t1")
        await tx.posts.add_publish_step(post.id, "container", "c1")
        await tx.posts.add_publish_step(post.id, "container", "c2")
    assert await store.posts.publish_steps(post.id) == {"part:1": "t1", "container": "c2"}
    assert await store.posts.publish_steps(str(uuid.uuid4())) == {}


async def test_with_status_lists_by_last_change(store: Store) -> None:
    """Listings filter by status and order by the last change, newest or oldest first."""
    first = await new_post(store)
    second = await new_post(store)
    third = await new_post(store, PostStatus.POSTED)
    async with store.transaction() as tx:
        await tx.posts.update(first.id, tone="touched")
    newest = await store.posts.with_status([PostStatus.PENDING])
    oldest = await store.posts.with_status([PostStatus.PENDING], newest_first=False)
    assert [p.id for p in newest] == [first.id, second.id]
    assert [p.id for p in oldest] == [second.id, first.id]
    both = await store.posts.with_status([PostStatus.PENDING, PostStatus.POSTED], limit=2)
    assert [p.id for p in both] == [first.id, third.id]
    assert await store.posts.count_by_status() == {PostStatus.PENDING: 2, PostStatus.POSTED: 1}


async def test_platforms_are_seeded_and_upserted(store: Store) -> None:
    """The three platforms of SPEC section 4 exist; upserting adds a new one (posts can then
    use it), updates a known one's name in place, and is idempotent."""
    seeded = {p.slug: (p.name, p.char_limit) for p in await store.posts.platforms()}
    assert seeded == {
        "x": ("X", 280),
        "linkedin": ("LinkedIn", 3000),
        "instagram": ("Instagram", 2200),
    }
    async with store.transaction() as tx:
        threads = await tx.posts.upsert_platform("threads", "Threads", 500)
        x = await tx.posts.upsert_platform("x", "X (Twitter)", 280)
        again = await tx.posts.upsert_platform("threads", "Threads", 500)
    assert again == threads and (threads.slug, threads.char_limit) == ("threads", 500)
    assert x.name == "X (Twitter)"
    upserted = {p.slug: (p.name, p.char_limit) for p in await store.posts.platforms()}
    assert upserted == {**seeded, "x": ("X (Twitter)", 280), "threads": ("Threads", 500)}
    post = await new_post(store, platform="threads")
    assert post.platform == "threads"


async def test_times_are_aware_utc_whatever_zone_went_in(store: Store) -> None:
    """A time given in another zone is stored as the same instant and read back in UTC, to the
    microsecond; a naive time is refused."""
    post = await new_post(store)
    zoned = datetime(2026, 3, 29, 3, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    async with store.transaction() as tx:
        await tx.posts.update(post.id, approved_at=zoned)
    stored = await store.posts.get(post.id)
    assert stored is not None and stored.approved_at == zoned
    assert stored.approved_at is not None and stored.approved_at.tzinfo is UTC
    assert stored.approved_at.hour == 1 and stored.approved_at.microsecond == 123456
    with pytest.raises((StatementError, ValueError), match="naive"):
        async with store.transaction() as tx:
            await tx.posts.update(post.id, approved_at=datetime(2026, 1, 1))
    with pytest.raises(ValidationError):
        NewPost(id="p", platform="x", status=PostStatus.PENDING, approved_at=datetime(2026, 1, 1))


async def test_rows_are_stamped_by_the_store_clock(backend: Backend) -> None:
    """Creation and change times come from the clock the store was opened with."""
    store = await backend.open(clock=lambda: T0)
    try:
        post = await new_post(store)
        async with store.transaction() as tx:
            changed = await tx.posts.update(post.id, tone="bold")
        assert post.created_at == T0
        assert changed is not None and T0 < changed.updated_at < T0 + timedelta(seconds=1)
    finally:
        await store.close()


async def test_two_concurrent_transitions_from_one_status_have_one_winner(store: Store) -> None:
    """50 transactions race to move one pending post: exactly one moves it."""
    post = await new_post(store)

    async def claim(target: PostStatus) -> bool:
        async with store.transaction() as tx:
            moved = await tx.posts.transition(post.id, [PostStatus.PENDING], target)
        return moved is not None

    targets = [PostStatus.APPROVED, PostStatus.REJECTED] * 25
    results = await asyncio.gather(*(claim(target) for target in targets))
    assert results.count(True) == 1
    winner = targets[results.index(True)]
    stored = await store.posts.get(post.id)
    assert stored is not None and stored.status == winner
