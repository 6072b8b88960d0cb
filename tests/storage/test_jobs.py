"""The retry table: queueing with keys and waits, claiming with leases, fenced finishing,
dead letters, revival, recovery and pruning."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from storage import Store
from storage.models import Job, JobStatus, NewJob, PostStatus
from tests.storage.conftest import Backend, Timeline
from tests.storage.support import T0, at, enqueue, new_post

LEASE = timedelta(seconds=30)


async def claim(
    timeline: Timeline, now: float = 0, owner: str = "A", **options: object
) -> list[Job]:
    """Claim due jobs at `at(now)` for `owner` (the lease clock moved on to `now` first)."""
    values: dict[str, object] = {"limit": 10, "lease": LEASE, "exclude": ()}
    values.update(options)
    moment = await timeline.move_to(now)
    async with timeline.store.transaction() as tx:
        return await tx.jobs.claim_due(now=moment, owner=owner, **values)  # type: ignore[arg-type]


async def ids(timeline: Timeline, now: float = 0, owner: str = "A", **options: object) -> list[int]:
    """The ids `claim` leased."""
    return [job.id for job in await claim(timeline, now, owner, **options)]


async def job(store: Store, job_id: int) -> Job:
    """The stored job."""
    found = await store.jobs.get(job_id)
    assert found is not None
    return found


async def test_enqueue_stores_the_job_as_given(store: Store) -> None:
    """A queued job keeps its kind, post, payload and due time; it has no attempts yet."""
    post = await new_post(store)
    job_id = await enqueue(store, "publish", post_id=post.id, payload={"a": [1, "b"]})
    queued = await job(store, job_id)
    assert (queued.kind, queued.post_id, queued.payload) == ("publish", post.id, {"a": [1, "b"]})
    assert (queued.status, queued.attempts, queued.next_attempt_at) == (JobStatus.QUEUED, 0, T0)
    assert queued.lease is None and queued.key is None
    assert [j.id for j in await store.jobs.for_post(post.id)] == [job_id]
    assert await store.jobs.get(job_id + 1000) is None


async def test_jobs_without_a_key_never_merge(store: Store) -> None:
    """Two jobs without a key are two jobs."""
    assert await enqueue(store) != await enqueue(store)


async def test_a_queued_job_absorbs_a_new_one_with_its_key_and_the_earlier_time_wins(
    store: Store,
) -> None:
    """Enqueueing with a key already queued returns that job's id; it becomes due at the
    earlier of the two times, whichever came first."""
    first = await enqueue(store, key="card:1", run_at=at(10))
    assert await enqueue(store, key="card:1", run_at=at(20)) == first
    assert (await job(store, first)).next_attempt_at == at(10)
    assert await enqueue(store, key="card:1", run_at=at(5)) == first
    assert (await job(store, first)).next_attempt_at == at(5)
    assert await enqueue(store, key="card:2", run_at=at(5)) != first
    assert len(await store.jobs.with_status(JobStatus.QUEUED)) == 2


async def test_jobs_of_one_key_never_run_at_the_same_time(store: Store, timeline: Timeline) -> None:
    """While a job of a key runs, a newly queued job of that key waits; it runs once the
    first is done."""
    running = await enqueue(store, key="k")
    assert await ids(timeline) == [running]
    waiting = await enqueue(store, key="k")
    assert waiting != running
    assert await ids(timeline, now=1) == []
    async with store.transaction() as tx:
        assert await tx.jobs.complete(running, owner="A")
    assert await ids(timeline, now=2) == [waiting]


async def test_one_batch_never_claims_two_jobs_of_a_key(store: Store, timeline: Timeline) -> None:
    """A running job whose lease expired and a queued job of the same key are both due: the
    older one is claimed, the other waits for it."""
    expired = await enqueue(store, key="k")
    await ids(timeline, owner="A")
    queued = await enqueue(store, key="k")
    other = await enqueue(store)
    claimed = await ids(timeline, now=LEASE.total_seconds() + 1, owner="B")
    assert claimed == [expired, other]
    assert (await job(store, queued)).status == JobStatus.QUEUED


async def test_a_job_waits_for_the_first_try_of_its_after_job(
    store: Store, timeline: Timeline
) -> None:
    """A job with `after_job_id` waits while that job is queued without attempts or runs,
    and also while it waits after a run that didn't count; not for its real retries."""
    card = await enqueue(store, "sync_card", key="card")
    publish = await enqueue(store, "publish", after_job_id=card)
    assert await ids(timeline) == [card]
    assert await ids(timeline, now=1) == []
    async with store.transaction() as tx:
        # Slack was paused: the run doesn't count, the card is still untried.
        assert await tx.jobs.reschedule(
            card, owner="A", run_at=at(2), error="paused", count_attempt=False
        )
    assert await ids(timeline, now=1) == []
    assert await ids(timeline, now=2) == [card]
    async with store.transaction() as tx:
        assert await tx.jobs.reschedule(card, owner="A", run_at=at(60), error="Slack down")
    assert await ids(timeline, now=3) == [publish]


async def test_an_after_job_that_is_gone_holds_nothing_back(
    store: Store, timeline: Timeline
) -> None:
    """A job waiting for a job that no longer exists (pruned) runs."""
    waiting = await enqueue(store, after_job_id=987654)
    assert await ids(timeline) == [waiting]


async def test_claim_leases_due_jobs_in_due_order_up_to_the_limit(
    store: Store, timeline: Timeline
) -> None:
    """Only due jobs are claimed, earliest first, at most `limit`; each is leased to its
    owner until now + lease, with one more attempt."""
    late = await enqueue(store, run_at=at(5))
    early = await enqueue(store, run_at=at(1))
    future = await enqueue(store, run_at=at(100))
    await timeline.move_to(10)
    before = await timeline.lease_clock()
    claimed = await claim(timeline, now=10, limit=1, owner="worker-1")
    after = await timeline.lease_clock()
    assert [j.id for j in claimed] == [early]
    assert (claimed[0].status, claimed[0].attempts) == (JobStatus.RUNNING, 1)
    assert claimed[0].lease_owner == "worker-1"
    # The lease clock's now + lease (SQLite: exactly at(10) + LEASE).
    lease = claimed[0].lease
    assert lease is not None and before + LEASE <= lease <= after + LEASE
    assert await ids(timeline, now=10) == [late]
    assert await ids(timeline, now=10) == []
    assert (await job(store, future)).status == JobStatus.QUEUED


async def test_an_expired_lease_is_taken_over_and_the_late_finisher_changes_nothing(
    store: Store, timeline: Timeline
) -> None:
    """A running job whose lease expired goes to the next claimer; the first owner's
    complete, reschedule, bury and renew then change nothing and say so."""
    job_id = await enqueue(store)
    assert await ids(timeline, owner="A", lease=timedelta(seconds=5)) == [job_id]
    assert await ids(timeline, now=4, owner="B") == []
    taken = await claim(timeline, now=6, owner="B")
    assert [(j.id, j.lease_owner, j.attempts) for j in taken] == [(job_id, "B", 2)]
    async with store.transaction() as tx:
        assert not await tx.jobs.complete(job_id, owner="A")
        assert not await tx.jobs.reschedule(job_id, owner="A", run_at=at(7), error="late")
        assert not await tx.jobs.bury(job_id, owner="A", queue="dlq", error="late")
        assert await tx.jobs.renew([job_id], owner="A", lease=LEASE) == set()
    unchanged = await job(store, job_id)
    assert (unchanged.status, unchanged.lease_owner, unchanged.last_error) == (
        JobStatus.RUNNING,
        "B",
        None,
    )
    async with store.transaction() as tx:
        assert await tx.jobs.complete(job_id, owner="B")
    done = await job(store, job_id)
    assert (done.status, done.lease, done.lease_owner) == (JobStatus.DONE, None, None)


async def test_excluded_jobs_are_not_claimed_whatever_their_lease(
    store: Store, timeline: Timeline
) -> None:
    """A worker still running a job whose lease ran out doesn't claim it again; it also
    keeps other jobs of that key waiting."""
    job_id = await enqueue(store, key="k")
    await ids(timeline, owner="A", lease=timedelta(seconds=1))
    queued = await enqueue(store, key="k")
    assert await ids(timeline, now=5, owner="A", exclude=[job_id]) == []
    assert (await job(store, queued)).status == JobStatus.QUEUED


async def test_claims_can_take_only_some_kinds_or_all_but_some(
    store: Store, timeline: Timeline
) -> None:
    """`kinds` claims only jobs of those kinds and `except_kinds` every other kind, so a
    worker can give a kind its own room; an empty `kinds` claims nothing."""
    draft = await enqueue(store, "draft", run_at=at(1))
    card = await enqueue(store, "sync_card", run_at=at(2))
    notice = await enqueue(store, "notify_user", run_at=at(3))
    assert await ids(timeline, kinds=[]) == []
    assert await ids(timeline, now=10, except_kinds=["draft"], limit=1) == [card]
    assert await ids(timeline, now=10, kinds=["draft", "publish"]) == [draft]
    assert await ids(timeline, now=10, except_kinds=["draft"]) == [notice]


async def test_renew_extends_only_the_owners_running_leases(
    store: Store, timeline: Timeline
) -> None:
    """Renewal moves the lease of the owner's running jobs forward and names them."""
    mine = await enqueue(store)
    theirs = await enqueue(store)
    await ids(timeline, owner="A", limit=1)
    await ids(timeline, owner="B", limit=1)
    before = (await job(store, mine)).lease
    theirs_before = (await job(store, theirs)).lease
    async with store.transaction() as tx:
        renewed = await tx.jobs.renew([mine, theirs], owner="A", lease=timedelta(hours=1))
    assert renewed == {mine}
    after = (await job(store, mine)).lease
    assert before is not None and after is not None and after > before
    assert (await job(store, theirs)).lease == theirs_before


async def test_reschedule_queues_the_job_again(store: Store, timeline: Timeline) -> None:
    """A rescheduled job is queued for its new time with its error; a run that doesn't
    count gives its attempt back."""
    job_id = await enqueue(store)
    await ids(timeline)
    async with store.transaction() as tx:
        assert await tx.jobs.reschedule(job_id, owner="A", run_at=at(30), error="503")
    queued = await job(store, job_id)
    assert (queued.status, queued.next_attempt_at, queued.last_error, queued.attempts) == (
        JobStatus.QUEUED,
        at(30),
        "503",
        1,
    )
    assert queued.lease is None and queued.lease_owner is None
    await ids(timeline, now=30)
    async with store.transaction() as tx:
        await tx.jobs.reschedule(job_id, owner="A", run_at=at(31), error=None, count_attempt=False)
    again = await job(store, job_id)
    assert (again.attempts, again.last_error) == (1, "503")


async def test_a_retry_next_to_a_queued_job_of_its_key_is_absorbed(
    store: Store, timeline: Timeline
) -> None:
    """A running job rescheduled while another job of its key is queued merges into that
    one: it keeps the earlier time and the jobs waiting for the absorbed one."""
    running = await enqueue(store, "sync_card", key="k")
    await ids(timeline)
    waiter = await enqueue(store, "publish", after_job_id=running)
    queued = await enqueue(store, "sync_card", key="k", run_at=at(50))
    async with store.transaction() as tx:
        assert await tx.jobs.reschedule(running, owner="A", run_at=at(20), error="503")
    assert await store.jobs.get(running) is None
    merged = await job(store, queued)
    assert (merged.status, merged.next_attempt_at) == (JobStatus.QUEUED, at(20))
    assert (await job(store, waiter)).after_job_id == queued


async def test_bury_moves_a_job_to_its_dead_letter_queue(store: Store, timeline: Timeline) -> None:
    """A buried job is dead, in its queue, with the reason; revive runs it again afresh."""
    job_id = await enqueue(store)
    await ids(timeline)
    async with store.transaction() as tx:
        assert await tx.jobs.bury(job_id, owner="A", queue="dlq_slack", error="gone")
        assert not await tx.jobs.revive(job_id + 1000, run_at=at(5))
    dead = await job(store, job_id)
    assert (dead.status, dead.queue, dead.last_error, dead.lease) == (
        JobStatus.DEAD,
        "dlq_slack",
        "gone",
        None,
    )
    assert [j.id for j in await store.jobs.with_status(JobStatus.DEAD)] == [job_id]
    async with store.transaction() as tx:
        assert await tx.jobs.revive(job_id, run_at=at(5))
        assert not await tx.jobs.revive(job_id, run_at=at(5))
    revived = await job(store, job_id)
    assert (revived.status, revived.queue, revived.attempts, revived.next_attempt_at) == (
        JobStatus.QUEUED,
        None,
        0,
        at(5),
    )


async def test_reviving_next_to_a_queued_job_of_its_key_merges_them(
    store: Store, timeline: Timeline
) -> None:
    """A dead job revived while its key has a queued job is absorbed by that job."""
    dead = await enqueue(store, key="k")
    await ids(timeline)
    async with store.transaction() as tx:
        await tx.jobs.bury(dead, owner="A", queue="dlq", error="x")
    queued = await enqueue(store, key="k", run_at=at(40))
    async with store.transaction() as tx:
        assert await tx.jobs.revive(dead, run_at=at(10))
    assert await store.jobs.get(dead) is None
    assert (await job(store, queued)).next_attempt_at == at(10)


async def test_requeue_running_makes_every_running_job_due(
    store: Store, timeline: Timeline
) -> None:
    """At start-up every running job whose process is gone (on SQLite every one, elsewhere
    once its lease ended) is due again now, without its lease; a running job whose key has a
    queued job merges into it."""
    plain = await enqueue(store)
    keyed = await enqueue(store, key="k")
    await ids(timeline)
    queued = await enqueue(store, key="k", run_at=at(100))
    await timeline.move_to(LEASE.total_seconds() + 1)
    async with store.transaction() as tx:
        assert await tx.jobs.requeue_running(at(9)) == 2
        assert await tx.jobs.requeue_running(at(9)) == 0
    again = await job(store, plain)
    assert (again.status, again.next_attempt_at, again.lease, again.attempts) == (
        JobStatus.QUEUED,
        at(9),
        None,
        1,
    )
    assert await store.jobs.get(keyed) is None
    assert (await job(store, queued)).next_attempt_at == at(9)


async def test_cancel_removes_the_queued_job_of_a_key(store: Store, timeline: Timeline) -> None:
    """Cancelling a key deletes its queued job; a running one is left alone."""
    queued = await enqueue(store, key="k", run_at=at(100))
    running = await enqueue(store, key="r")
    await ids(timeline)
    async with store.transaction() as tx:
        assert await tx.jobs.cancel("k")
        assert not await tx.jobs.cancel("k")
        assert not await tx.jobs.cancel("r")
    assert await store.jobs.get(queued) is None
    assert (await job(store, running)).status == JobStatus.RUNNING


async def test_prune_forgets_only_old_finished_jobs(store: Store, timeline: Timeline) -> None:
    """Pruning deletes done jobs last changed before the cut-off, nothing else."""
    done = await enqueue(store)
    queued = await enqueue(store, run_at=at(1000))
    await ids(timeline)
    async with store.transaction() as tx:
        await tx.jobs.complete(done, owner="A")
    finished = await job(store, done)
    async with store.transaction() as tx:
        assert await tx.jobs.prune_done(finished.updated_at) == 0
        assert await tx.jobs.prune_done(finished.updated_at + timedelta(seconds=1)) == 1
    assert await store.jobs.get(done) is None
    assert await store.jobs.get(queued) is not None


async def test_next_due_at_ignores_jobs_that_are_held_back(
    store: Store, timeline: Timeline
) -> None:
    """The next due time is the earliest queued job that may run, or the earliest lease end;
    a job waiting for another job of its key or for its after-job doesn't count."""
    assert await store.jobs.next_due_at() is None
    await enqueue(store, run_at=at(50))
    assert await store.jobs.next_due_at() == at(50)
    running = await enqueue(store, key="k", run_at=at(0))
    await ids(timeline, now=0, lease=timedelta(seconds=100))
    await enqueue(store, key="k", run_at=at(1))
    await enqueue(store, after_job_id=running, run_at=at(2))
    assert await store.jobs.next_due_at() == at(50)
    await ids(timeline, now=0)
    await enqueue(store, run_at=at(3), key="other")
    assert await store.jobs.next_due_at() == at(3)
    assert await store.jobs.next_due_at(after=at(3)) == at(50)
    # The running job's lease ends on the lease clock (SQLite: at(100)).
    lease_end = (await job(store, running)).lease
    assert lease_end is not None and lease_end > at(60)
    assert await store.jobs.next_due_at(after=at(60)) == lease_end
    assert await store.jobs.next_due_at(after=lease_end) is None


async def test_counts_per_kind_and_status(store: Store, timeline: Timeline) -> None:
    """Counts group the jobs by kind and status."""
    post = await new_post(store, PostStatus.APPROVED)
    await enqueue(store, "publish", post_id=post.id)
    await enqueue(store, "sync_card", post_id=post.id, run_at=at(100))
    await enqueue(store, "sync_card", post_id=post.id, run_at=at(100))
    await ids(timeline)
    assert await store.jobs.counts() == {
        ("publish", "running"): 1,
        ("sync_card", "queued"): 2,
    }


async def test_count_by_status_leaves_out_the_jobs_of_given_posts(
    store: Store, timeline: Timeline
) -> None:
    """`count` counts the jobs in one status, without those of the posts left out (App Home
    lists a failed post's dead jobs through the post); jobs of no post always count."""
    first, second = await new_post(store), await new_post(store)
    for post_id in (first.id, second.id, None, first.id):
        await enqueue(store, "publish", post_id=post_id)
    dead = await ids(timeline)
    async with store.transaction() as tx:
        for job_id in dead:
            assert await tx.jobs.bury(job_id, owner="A", queue="dlq_publish", error="gone")
    await enqueue(store, "sync_card", post_id=second.id)
    assert await store.jobs.count(JobStatus.DEAD) == 4
    assert await store.jobs.count(JobStatus.DEAD, except_posts={first.id}) == 2
    assert await store.jobs.count(JobStatus.DEAD, except_posts=[first.id, second.id]) == 1
    assert await store.jobs.count(JobStatus.QUEUED, except_posts={first.id}) == 1
    assert await store.jobs.count(JobStatus.RUNNING) == 0


async def test_with_status_lists_newest_first(store: Store) -> None:
    """Jobs of one status are listed newest first, up to the limit."""
    first = await enqueue(store, run_at=at(100))
    second = await enqueue(store, run_at=at(100))
    assert [j.id for j in await store.jobs.with_status(JobStatus.QUEUED)] == [second, first]
    assert [j.id for j in await store.jobs.with_status(JobStatus.QUEUED, limit=1)] == [second]


async def test_job_times_round_trip_as_aware_utc(store: Store) -> None:
    """Due times and leases come back as the same aware UTC instants."""
    async with store.transaction() as tx:
        job_id = await tx.jobs.enqueue(NewJob(kind="k", run_at=at(0.000001)))
    assert (await job(store, job_id)).next_attempt_at == at(0.000001)


async def test_a_commit_that_queued_work_wakes_the_waiter(store: Store) -> None:
    """`wait_for_jobs` returns True once a transaction that queued a job commits (also when
    it committed before the call), and False at its timeout when nothing was queued: a
    rolled-back enqueue or a transaction that queued nothing wakes nobody."""
    while await store.wait_for_jobs(timeout=0.05):
        pass
    with contextlib.suppress(RuntimeError):
        async with store.transaction() as tx:
            await tx.jobs.enqueue(NewJob(kind="k", run_at=T0))
            raise RuntimeError("rolled back")
    async with store.transaction() as tx:
        await tx.audit.record(actor="U1", action="a", post_id=None, outcome="ok")
    assert not await store.wait_for_jobs(timeout=0.3)
    await enqueue(store)
    assert await store.wait_for_jobs(timeout=60)
    waiting = asyncio.create_task(store.wait_for_jobs(timeout=60))
    await enqueue(store)
    assert await waiting


async def test_a_job_queued_leased_runs_for_its_owner_until_its_lease_ends(
    store: Store, timeline: Timeline
) -> None:
    """`enqueue_leased` writes the job already running for its owner, as its first attempt:
    no claim takes it while the lease lasts, a job of its key queued meanwhile waits for it,
    and once the lease has ended another worker takes it over."""
    post = await new_post(store)
    async with store.transaction() as tx:
        leased = await tx.jobs.enqueue_leased(
            NewJob(kind="sync_card", post_id=post.id, run_at=T0, payload={"n": 1}, key="card:1"),
            owner="A",
            lease=LEASE,
        )
    assert leased is not None
    stored = await job(store, leased.id)
    assert stored == leased
    assert (stored.status, stored.lease_owner, stored.attempts) == (JobStatus.RUNNING, "A", 1)
    assert (stored.kind, stored.post_id, stored.payload, stored.key) == (
        "sync_card",
        post.id,
        {"n": 1},
        "card:1",
    )
    waiting = await enqueue(store, "sync_card", key="card:1")
    assert await ids(timeline, owner="B") == []
    # The lease runs on the store's clock from the moment it was written (the machine's).
    ended = (stored.next_attempt_at - T0 + LEASE).total_seconds() + 1
    taken = await claim(timeline, now=ended, owner="B")
    assert [(j.id, j.lease_owner, j.attempts) for j in taken] == [(leased.id, "B", 2)]
    assert (await job(store, waiting)).status == JobStatus.QUEUED


async def test_a_job_is_not_queued_leased_while_a_job_of_its_key_is_queued_or_running(
    store: Store, timeline: Timeline
) -> None:
    """With a job of its key queued, or running, `enqueue_leased` writes nothing and says so
    (the caller queues the job as usual); a job without a key, or of another key, is leased."""
    queued = await enqueue(store, key="k")

    async def lease(key: str | None) -> Job | None:
        async with store.transaction() as tx:
            new = NewJob(kind="notify_user", run_at=T0, key=key)
            return await tx.jobs.enqueue_leased(new, owner="A", lease=LEASE)

    assert await lease("k") is None
    assert await ids(timeline) == [queued]
    assert await lease("k") is None
    other = await lease("other")
    unkeyed = await lease(None)
    assert other is not None and unkeyed is not None
    running = await store.jobs.with_status(JobStatus.RUNNING)
    assert sorted(j.id for j in running) == sorted([queued, other.id, unkeyed.id])


async def test_of_two_transactions_leasing_a_job_of_one_key_at_once_one_gets_it(
    store: Store,
) -> None:
    """Two transactions lease a job of the same key at the same time (on PostgreSQL the
    second can't see the first's uncommitted row): once the first commits, the second gets
    nothing, so never do two jobs of a key run at once."""
    first_in = asyncio.Event()
    first_may_commit = asyncio.Event()

    async def lease(owner: str, hold: bool) -> Job | None:
        async with store.transaction() as tx:
            new = NewJob(kind="notify_user", run_at=T0, key="race")
            leased = await tx.jobs.enqueue_leased(new, owner=owner, lease=LEASE)
            if hold:
                first_in.set()
                await first_may_commit.wait()
            return leased

    first = asyncio.create_task(lease("A", hold=True))
    await first_in.wait()
    second = asyncio.create_task(lease("B", hold=False))
    await asyncio.sleep(0.2)  # the second is under way (waiting for the first, either way)
    first_may_commit.set()
    won, lost = await first, await second
    assert won is not None and won.lease_owner == "A"
    assert lost is None
    assert [j.id for j in await store.jobs.with_status(JobStatus.RUNNING)] == [won.id]


async def test_a_lease_written_on_a_shared_database_wakes_the_other_processes(
    store: Store, backend: Backend
) -> None:
    """On PostgreSQL a job written leased wakes every process's waiter, as a queued one does
    (told of the lease, another process takes the job over as soon as it ends if its owner
    dies); on SQLite, where no other process can run it, nobody is woken for nothing."""
    while await store.wait_for_jobs(timeout=0.05):
        pass
    async with store.transaction() as tx:
        leased = await tx.jobs.enqueue_leased(NewJob(kind="k", run_at=T0), owner="A", lease=LEASE)
    assert leased is not None
    woken = await store.wait_for_jobs(timeout=5 if backend.name == "postgres" else 0.3)
    assert woken == (backend.name == "postgres")
