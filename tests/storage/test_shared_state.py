"""Shared state every process on one database sees: rate-limit buckets, App Home viewers and
circuit holds (contract suite: SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

from storage import Store
from tests.storage.conftest import Backend


async def take(store: Store, key: str, cost: float = 1, **shape: float) -> float:
    """One take from bucket `key` in a transaction of its own."""
    async with store.transaction() as tx:
        return await tx.buckets.take(
            key,
            cost,
            capacity=shape.get("capacity", 3),
            per_seconds=shape.get("per_seconds", 3600),
        )


async def test_a_new_bucket_is_full_and_refuses_once_spent(store: Store) -> None:
    """A bucket of 3 gives three tokens, then refuses with the wait until one is back."""
    assert [await take(store, "user:U1") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = await take(store, "user:U1")
    # One token of 3 per hour comes back in 20 minutes (a little less, time has passed).
    assert 1100 < wait <= 1200
    assert await take(store, "user:U2") == 0.0, "another key is another bucket"


async def test_a_refused_take_takes_nothing(store: Store) -> None:
    """A take of more than is left takes nothing: a smaller one still fits afterwards."""
    assert await take(store, "workspace", 2) == 0.0
    assert await take(store, "workspace", 2) > 0
    assert await take(store, "workspace", 1) == 0.0
    assert await take(store, "workspace", 1) > 0


async def test_a_cost_above_capacity_takes_a_full_bucket(store: Store) -> None:
    """Five drafts from a bucket of 3 are taken while it is full, and empty it."""
    assert await take(store, "workspace", 5) == 0.0
    assert await take(store, "workspace", 1) > 0


async def test_a_bucket_refills_over_time(store: Store) -> None:
    """An emptied bucket of 10 per second has a token again after a fifth of a second."""
    shape = {"capacity": 10.0, "per_seconds": 1.0}
    assert await take(store, "user:U1", 10, **shape) == 0.0
    assert await take(store, "user:U1", 1, **shape) > 0
    await asyncio.sleep(0.25)
    assert await take(store, "user:U1", 1, **shape) == 0.0


async def test_a_take_rolled_back_with_its_transaction_spends_nothing(store: Store) -> None:
    """Tokens taken in a transaction that rolls back are still there."""
    try:
        async with store.transaction() as tx:
            await tx.buckets.take("user:U1", 3, capacity=3, per_seconds=3600)
            raise RuntimeError("the work the tokens paid for failed")
    except RuntimeError:
        pass
    assert await take(store, "user:U1", 3) == 0.0


async def test_concurrent_takes_from_two_stores_never_overspend(backend: Backend) -> None:
    """40 takes at once through two stores on one database from a bucket of 7: exactly 7
    succeed (on PostgreSQL the two stores are two connection pools, as two processes have)."""
    first, second = await backend.open(), await backend.open() if backend.name != "sqlite" else None
    try:
        stores = [first, second or first]
        waits = await asyncio.gather(
            *(take(stores[n % 2], "workspace", capacity=7) for n in range(40))
        )
    finally:
        await first.close()
        if second is not None:
            await second.close()
    assert sum(1 for wait in waits if wait == 0.0) == 7


async def test_home_viewers_are_kept_most_recent_first_and_bounded(store: Store) -> None:
    """Viewers come back most recent first; opening again moves one up; only `keep` stay."""
    for user in ["U1", "U2", "U3", "U1"]:
        async with store.transaction() as tx:
            await tx.viewers.opened(user, keep=2)
    assert await store.viewers.recent(10) == ["U1", "U3"]
    assert await store.viewers.recent(1) == ["U1"]


async def test_a_circuit_hold_lasts_its_seconds_and_only_grows(store: Store) -> None:
    """A hold is seen with the time it has left; a shorter one doesn't cut it short; it ends."""
    assert await store.holds.held_for("platform:x") is None
    async with store.transaction() as tx:
        await tx.holds.hold("platform:x", 30)
    async with store.transaction() as tx:
        await tx.holds.hold("platform:x", 0.2)
    left = await store.holds.held_for("platform:x")
    assert left is not None and 25 < left <= 30
    assert await store.holds.held_for("platform:linkedin") is None
    async with store.transaction() as tx:
        await tx.holds.hold("platform:linkedin", 0.2)
    await asyncio.sleep(0.3)
    assert await store.holds.held_for("platform:linkedin") is None


async def test_concurrent_first_takes_of_a_new_bucket_are_all_served(backend: Backend) -> None:
    """Many takes at once from a bucket nobody has used yet, with room for them all: every
    one is served. (On PostgreSQL a take could find no row, then see the row a concurrent
    first take had just created, full, and refuse anyway: spurious 429s under a burst.)"""
    first, second = await backend.open(), await backend.open() if backend.name != "sqlite" else None
    try:
        stores = [first, second or first]
        for round_ in range(5):
            waits = await asyncio.gather(
                *(
                    take(stores[n % 2], f"fresh-{round_}", capacity=1_000_000, per_seconds=1)
                    for n in range(30)
                )
            )
            assert waits == [0.0] * 30
    finally:
        await first.close()
        if second is not None:
            await second.close()
