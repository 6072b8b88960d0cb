"""Transactions and reads: atomicity, freshness under load, and cancellation at any point."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from storage import Store
from storage.models import JobStatus, PostStatus
from storage.sql.executor import to_completion
from tests.storage.support import T0, enqueue, new_post


async def test_an_error_inside_a_transaction_leaves_no_trace(store: Store) -> None:
    """Every write of a transaction that raises is rolled back."""
    post = await new_post(store)
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.posts.transition(post.id, [PostStatus.PENDING], PostStatus.REJECTED)
            await tx.audit.record(actor="U1", action="reject", post_id=post.id, outcome="x")
            raise RuntimeError("boom")
    stored = await store.posts.get(post.id)
    assert stored is not None and stored.status == PostStatus.PENDING
    assert await store.audit.for_post(post.id) == []


async def test_a_transaction_sees_its_own_writes_and_reads_outside_see_them_after_commit(
    store: Store,
) -> None:
    """Inside a transaction its writes are visible to it; outside, once it commits."""
    post = await new_post(store)
    async with store.transaction() as tx:
        await tx.posts.update(post.id, tone="inside")
        inside = await tx.posts.get(post.id)
        assert inside is not None and inside.tone == "inside"
    after = await store.posts.get(post.id)
    assert after is not None and after.tone == "inside"


async def test_many_concurrent_transactions_all_commit(store: Store) -> None:
    """100 transactions started at once each commit their write (none interleave)."""

    async def write(n: int) -> None:
        async with store.transaction() as tx:
            await tx.audit.record(actor=f"U{n}", action="a", post_id=None, outcome="ok")

    await asyncio.gather(*(write(n) for n in range(100)))
    assert len(await store.audit.recent(limit=1000)) == 100


async def test_reads_under_concurrent_load_see_the_latest_commit(store: Store) -> None:
    """Many tasks reading all the time never pin an old snapshot: a read that starts after a
    commit sees it (the publish job relies on this to see its post approved)."""
    post = await new_post(store)
    stop = asyncio.Event()

    async def keep_reading() -> None:
        while not stop.is_set():
            await store.posts.get(post.id)
            await store.jobs.next_due_at()

    readers = [asyncio.create_task(keep_reading()) for _ in range(30)]
    await asyncio.sleep(0.05)
    stale = 0
    for _ in range(20):
        async with store.transaction() as tx:
            await tx.posts.transition(post.id, [PostStatus.PENDING], PostStatus.APPROVED)
        seen = await store.posts.get(post.id)
        stale += seen is None or seen.status != PostStatus.APPROVED
        async with store.transaction() as tx:
            await tx.posts.transition(post.id, [PostStatus.APPROVED], PostStatus.PENDING)
    stop.set()
    await asyncio.gather(*readers)
    assert stale == 0


async def _cancel_after(steps: int, work: asyncio.Task[None]) -> bool:
    """Let `work` run for `steps` turns of the event loop, then cancel it; whether it was
    still running when cancelled."""
    for _ in range(steps):
        if work.done():
            break
        await asyncio.sleep(0)
    cancelled = not work.done()
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await work
    return cancelled


async def test_a_transaction_cancelled_at_any_point_leaves_the_store_usable(
    store: Store,
) -> None:
    """A transaction cancelled at every successive await point (taking its turn, checking a
    connection out, BEGIN, each statement, COMMIT) either happened whole or not at all, and
    the next transactions and reads work."""
    post = await new_post(store)
    cut_short = 0
    for steps in range(200):
        marker = f"m{steps}"

        async def write(marker: str = marker) -> None:
            async with store.transaction() as tx:
                await tx.posts.update(post.id, tone=marker)
                await tx.audit.record(actor="U1", action=marker, post_id=post.id, outcome="ok")

        work = asyncio.create_task(write())
        if not await _cancel_after(steps, work):
            break
        cut_short += 1
        stored = await store.posts.get(post.id)
        trail = [entry.action for entry in await store.audit.for_post(post.id)]
        assert stored is not None
        # All or nothing: the tone and the audit entry were written together.
        assert (stored.tone == marker) == (marker in trail)
        # The store still takes writes and reads.
        async with store.transaction() as tx:
            await tx.posts.update(post.id, tone="after")
        after = await store.posts.get(post.id)
        assert after is not None and after.tone == "after"
    assert cut_short > 5, "the transaction was cut short at several points"
    job_id = await enqueue(store)
    stored_job = await store.jobs.get(job_id)
    assert stored_job is not None and stored_job.status == JobStatus.QUEUED
    assert stored_job.next_attempt_at == T0


async def test_a_read_cancelled_at_any_point_leaves_the_store_usable(store: Store) -> None:
    """Reads cancelled at every successive await point don't break later reads, which still
    see the latest commit."""
    post = await new_post(store)
    for steps in range(60):
        work = asyncio.create_task(_read(store, post.id))
        if not await _cancel_after(steps, work):
            break
        async with store.transaction() as tx:
            await tx.posts.update(post.id, tone=f"t{steps}")
        seen = await store.posts.get(post.id)
        assert seen is not None and seen.tone == f"t{steps}"


async def _read(store: Store, post_id: str) -> None:
    await store.posts.get(post_id)
    await store.posts.versions(post_id)
    await store.jobs.next_due_at()


async def test_an_operation_that_needs_no_wait_runs_at_once_and_one_that_waits_finishes() -> None:
    """`to_completion(eager=True)` runs an operation's first step at once: one that never
    waits is done without a task or a turn of the event loop; one that waits still runs to
    its end when its caller is cancelled meanwhile, and the cancellation comes after."""
    steps: list[str] = []

    async def at_once() -> str:
        steps.append("at once")
        return "done"

    tasks_before = len(asyncio.all_tasks())
    result = await to_completion(at_once(), eager=True)
    assert (result, steps, len(asyncio.all_tasks())) == ("done", ["at once"], tasks_before)

    release = asyncio.Event()

    async def waits() -> str:
        steps.append("started")
        await release.wait()
        await asyncio.sleep(0)
        steps.append("finished")
        return "late"

    caller = asyncio.create_task(to_completion(waits(), eager=True))
    await asyncio.sleep(0)
    caller.cancel()
    await asyncio.sleep(0)
    assert steps[-1] == "started" and not caller.done()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert steps[-1] == "finished"
