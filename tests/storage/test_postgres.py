"""PostgreSQL only: what several processes sharing one database rely on.

Each "process" is a store of its own (its own pool and listener connection) on one test
database; they race for real on the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage import Store, migrations, open_store
from storage.models import JobStatus, NewJob, PostStatus
from storage.sql.store import SqlStore
from tests.storage.support import T0, at, enqueue, new_post, transaction_held
from tests.support.emulators.base import wait_until
from tests.support.postgres import PostgresServer

LONG = timedelta(minutes=5)


@pytest.fixture
async def processes(postgres_url: str) -> AsyncIterator[list[Store]]:
    """Three stores on one fresh database, like three bot processes."""
    stores = [await open_store(postgres_url, pool_size=3) for _ in range(3)]
    yield stores
    for store in stores:
        await store.close()


async def _claim(store: Store, owner: str, *, limit: int = 5, lease: timedelta = LONG) -> list[int]:
    # `now` far ahead of every job: only the leases (on the database's clock) hold jobs back.
    async with store.transaction() as tx:
        jobs = await tx.jobs.claim_due(now=at(10**6), limit=limit, lease=lease, owner=owner)
    return [job.id for job in jobs]


async def test_concurrent_claimers_never_get_the_same_job(processes: list[Store]) -> None:
    """Six claimers in three processes drain 300 jobs at once: every job is claimed exactly
    once (FOR UPDATE SKIP LOCKED), none twice, none left behind."""
    async with processes[0].transaction() as tx:
        queued = {await tx.jobs.enqueue(NewJob(kind="k", run_at=T0)) for _ in range(300)}
    claims: dict[str, list[int]] = {}

    async def drain(store: Store, owner: str) -> None:
        mine = claims.setdefault(owner, [])
        while batch := await _claim(store, owner):
            mine.extend(batch)

    await asyncio.gather(
        *(drain(store, f"{n}-{i}") for n, store in enumerate(processes) for i in range(2))
    )
    every = [job_id for batch in claims.values() for job_id in batch]
    assert sorted(every) == sorted(queued)
    assert len(set(every)) == len(every)
    assert sum(1 for batch in claims.values() if batch) > 1, "the claimers raced"


async def test_leases_are_on_the_database_clock_and_a_late_finisher_changes_nothing(
    processes: list[Store],
) -> None:
    """A lease holds whatever time the claimer says it is; once it ends on the DATABASE's
    clock another process takes the job over, and the first owner's complete, reschedule,
    bury and renew then change nothing and say so."""
    first, second = processes[0], processes[1]
    job_id = await enqueue(first)
    assert await _claim(first, "A", lease=LONG) == [job_id]
    assert await _claim(second, "B") == [], "a claimer's own clock can't end a lease"
    async with first.transaction() as tx:
        # A short lease from now on: it ends by itself, on the database's clock.
        assert await tx.jobs.renew([job_id], owner="A", lease=timedelta(milliseconds=200))

    async def taken_over() -> list[int]:
        return await _claim(second, "B")

    assert await wait_until(taken_over, timeout=30, interval=0.05) == [job_id]
    async with first.transaction() as tx:
        assert not await tx.jobs.complete(job_id, owner="A")
        assert not await tx.jobs.reschedule(job_id, owner="A", run_at=at(1), error="late")
        assert not await tx.jobs.bury(job_id, owner="A", queue="dlq", error="late")
        assert await tx.jobs.renew([job_id], owner="A", lease=LONG) == set()
    running = await second.jobs.get(job_id)
    assert running is not None
    assert (running.status, running.lease_owner, running.attempts) == (JobStatus.RUNNING, "B", 2)
    assert running.last_error is None
    async with second.transaction() as tx:
        assert await tx.jobs.complete(job_id, owner="B")


async def test_requeue_running_leaves_live_leases_of_other_processes_alone(
    processes: list[Store],
) -> None:
    """A process starting up on a shared database requeues only running jobs whose lease
    ended: the others belong to processes that are alive."""
    live = await enqueue(processes[0])
    assert await _claim(processes[0], "A", lease=LONG) == [live]
    async with processes[1].transaction() as tx:
        assert await tx.jobs.requeue_running(at(0)) == 0
    job = await processes[1].jobs.get(live)
    assert job is not None and (job.status, job.lease_owner) == (JobStatus.RUNNING, "A")


async def test_concurrent_transitions_have_exactly_one_winner(processes: list[Store]) -> None:
    """30 transactions in three processes approve one pending post at once: exactly one
    conditional UPDATE wins, every other one finds the post already moved."""
    post = await new_post(processes[0])

    async def approve(store: Store, who: str) -> bool:
        async with store.transaction() as tx:
            moved = await tx.posts.transition(
                post.id, [PostStatus.PENDING], PostStatus.APPROVED, approved_by=who
            )
            return moved is not None

    won = await asyncio.gather(
        *(approve(processes[n % 3], f"U{n}") for n in range(30)), return_exceptions=True
    )
    assert won.count(True) == 1 and won.count(False) == 29
    stored = await processes[2].posts.get(post.id)
    assert stored is not None and stored.status == PostStatus.APPROVED
    assert stored.approved_by == f"U{won.index(True)}"


async def test_jobs_of_one_key_never_run_at_once_across_processes(
    processes: list[Store],
) -> None:
    """Three processes queue, claim and finish jobs of four keys as fast as they can: no key
    ever has two running jobs (the claim holds them back, and a unique index makes the
    database itself refuse a second)."""
    running_keys: set[str] = set()
    overlaps: list[str] = []
    finished = 0

    async def work(store: Store, owner: str) -> None:
        nonlocal finished
        for round_ in range(25):
            async with store.transaction() as tx:
                for key in ("a", "b", "c", "d"):
                    await tx.jobs.enqueue(NewJob(kind="k", run_at=T0, key=key))
            async with store.transaction() as tx:
                jobs = await tx.jobs.claim_due(now=at(round_), limit=4, lease=LONG, owner=owner)
            for job in jobs:
                assert job.key is not None
                if job.key in running_keys:
                    overlaps.append(job.key)
                running_keys.add(job.key)
            await asyncio.sleep(0)
            for job in jobs:
                assert job.key is not None
                running_keys.discard(job.key)
                async with store.transaction() as tx:
                    assert await tx.jobs.complete(job.id, owner=owner)
                finished += 1

    await asyncio.gather(*(work(store, f"P{n}") for n, store in enumerate(processes)))
    assert overlaps == []
    assert finished > 4


async def test_the_database_refuses_a_second_running_job_of_a_key(processes: list[Store]) -> None:
    """Whatever a process does, the database keeps one running job per key: making a second
    job of a key running fails (the unique partial index)."""
    store = processes[0]
    first = await enqueue(store, key="k")
    assert await _claim(store, "A") == [first]
    second = await enqueue(store, key="k")
    assert isinstance(store, SqlStore)
    with pytest.raises(IntegrityError):
        async with store.raw_transaction() as connection:
            await connection.execute(
                text("UPDATE retry_jobs SET status = 'running' WHERE id = :id"), {"id": second}
            )


async def test_processes_opening_a_fresh_database_together_migrate_it_once(
    postgres_server: PostgresServer,
) -> None:
    """Six processes starting at once on an empty database all open it (the advisory lock
    lets one migrate, the others then find nothing to do): one schema, at the newest
    revision, the platforms seeded once."""
    url = await postgres_server.create_database()
    try:
        stores = await asyncio.gather(*(open_store(url, pool_size=1) for _ in range(6)))
        try:
            async with stores[0].transaction() as tx:
                await tx.jobs.enqueue(NewJob(kind="k", run_at=T0))
            assert len(await stores[5].jobs.with_status(JobStatus.QUEUED)) == 1
        finally:
            for store in stores:
                await store.close()
        connection = await asyncpg.connect(url)
        try:
            versions = await connection.fetch("SELECT version_num FROM alembic_version")
            platforms = await connection.fetchval("SELECT count(*) FROM social_platforms")
        finally:
            await connection.close()
        assert [row["version_num"] for row in versions] == [migrations.head()]
        assert platforms == 3
    finally:
        await postgres_server.drop_database(url)


async def test_queued_work_wakes_the_waiter_of_another_process(processes: list[Store]) -> None:
    """A transaction that queues a job wakes `wait_for_jobs` in every process once it commits
    (LISTEN/NOTIFY); a transaction that rolls back wakes nobody."""
    sender, receiver = processes[0], processes[1]
    await _drain_wakeups(receiver)
    with pytest.raises(RuntimeError):
        async with sender.transaction() as tx:
            await tx.jobs.enqueue(NewJob(kind="k", run_at=T0))
            raise RuntimeError("rolled back")
    assert not await receiver.wait_for_jobs(timeout=0.5)
    waiting = asyncio.create_task(receiver.wait_for_jobs(timeout=60))
    await enqueue(sender)
    assert await waiting


async def test_a_lost_listener_comes_back_and_the_slow_poll_covers_meanwhile(
    processes: list[Store], postgres_url: str
) -> None:
    """When the listening connection is killed, `wait_for_jobs` still returns at its timeout
    (the worker's slow poll); the listener connects again, wakes the waiter once (work may
    have been queued meanwhile) and later notifications arrive again."""
    sender, receiver = processes[0], processes[1]
    await _drain_wakeups(receiver)
    admin = await asyncpg.connect(postgres_url)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
    finally:
        await admin.close()
    assert killed == 3, "one listener per process"
    # Woken once the listener is back: this is the catch-up after the gap.
    assert await receiver.wait_for_jobs(timeout=60)
    assert not await receiver.wait_for_jobs(timeout=0.2), "the slow poll returns on time"
    waiting = asyncio.create_task(receiver.wait_for_jobs(timeout=60))
    await enqueue(sender)
    assert await waiting


async def _drain_wakeups(store: Store) -> None:
    """Forget wake-ups from before (opening a store wakes nobody, but be sure)."""
    while await store.wait_for_jobs(timeout=0.05):
        pass


async def test_a_read_gets_the_next_free_connection_before_waiting_writes(
    postgres_url: str,
) -> None:
    """With every pooled connection taken, a read queued after two writes gets the next free
    connection first (it holds it for a few milliseconds; the writes wait one read longer),
    and the writes follow in the order they came."""
    store = await open_store(postgres_url, pool_size=1)
    order: list[str] = []
    try:
        post = await new_post(store)

        async def write(name: str) -> None:
            async with store.transaction() as tx:
                await tx.posts.update(post.id, tone=name)
                order.append(name)

        async def read() -> None:
            assert await store.posts.get(post.id) is not None
            order.append("read")

        async with transaction_held(store):
            tasks = [asyncio.create_task(write("write-1")), asyncio.create_task(write("write-2"))]
            await asyncio.sleep(0.01)
            tasks.append(asyncio.create_task(read()))
            await asyncio.sleep(0.01)
        await asyncio.gather(*tasks)
    finally:
        await store.close()
    assert order == ["read", "write-1", "write-2"]
