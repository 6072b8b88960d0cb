"""Several approvals (SOCIALPOST_REQUIRED_APPROVALS) and approver groups in the domain, over
a real store: counting, refusals, clearing by changes, and races (also across two stores on
one PostgreSQL database, as two processes would be)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from services.approvals import ApprovalState
from services.jobs.registry import JobTypes
from services.models import Actor, Verdict
from services.overview import Overview
from services.platforms.publish import PUBLISH
from storage import Store, open_store, sqlite_url
from storage.models import PostStatus
from tests.support.clock import MovableClock
from tests.support.domain import Domain, domain_of
from tests.unit.services.test_decisions import pending_post

REQUESTER = "U0REQ"  # who `pending_post` says asked for the post


@dataclass
class Directory:
    """Approver groups' members as the Slack layer last resolved them."""

    known: dict[str, frozenset[str]] = field(default_factory=dict)

    def members_of(self, group_id: str) -> frozenset[str] | None:
        """The group's last known members."""
        return self.known.get(group_id)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh SQLite database."""
    opened = await open_store(sqlite_url(tmp_path / "socialpost.db"))
    yield opened
    await opened.close()


def seen(user: str, version: int = 1) -> Actor:
    """`user`, having seen `version`."""
    return Actor(user_id=user, seen_version=version)


async def status_of(store: Store, post_id: str) -> PostStatus:
    """The post's status now."""
    post = await store.posts.get(post_id)
    assert post is not None
    return post.status


async def domain_cards_state(domain: Domain, post_id: str) -> ApprovalState:
    """What the post's card says about its approvals now."""
    post = await domain.store.posts.get(post_id)
    assert post is not None
    return domain.policy.approvals_of(post, await domain.store.approvals.for_post(post_id))


async def publishes(store: Store, post_id: str) -> int:
    """How many publish jobs the post has."""
    return [job.kind for job in await store.jobs.for_post(post_id)].count(PUBLISH)


async def test_two_approvals_publish_on_the_second(store: Store) -> None:
    """With two needed, the first approval is recorded (the post stays pending, its card is
    queued for an update, the audit says so) and the second one publishes."""
    domain = domain_of(store, required_approvals=2)
    post_id = await pending_post(store)
    first = await domain.decisions.approve(post_id, seen("U0ANN"))
    assert first.verdict == Verdict.DONE
    assert await status_of(store, post_id) == PostStatus.PENDING
    assert await publishes(store, post_id) == 0
    assert await store.approvals.standing(post_id, 1) == ["U0ANN"]
    assert any(job.kind == "sync_card" for job in await store.jobs.for_post(post_id))
    second = await domain.decisions.approve(post_id, seen("U0BOB"))
    assert second.verdict == Verdict.DONE and second.post is not None
    assert second.post.status == PostStatus.APPROVED and second.post.approved_by == "U0BOB"
    assert json.loads(second.post.approval_source or "{}")["approvers"] == ["U0ANN", "U0BOB"]
    assert await publishes(store, post_id) == 1
    trail = [(e.actor, e.action, e.outcome) for e in await store.audit.for_post(post_id)]
    assert trail == [("U0ANN", "approve", "approval_recorded"), ("U0BOB", "approve", "approved")]


async def test_a_schedule_counts_as_one_approval_and_only_the_last_schedules(
    store: Store,
) -> None:
    """With two needed, Schedule… by one approver records an approval (the post stays
    pending, nothing is queued to publish); the second approver's Approve & post then
    schedules it for the time asked, its publish job due then."""
    domain = domain_of(store, required_approvals=2)
    post_id = await pending_post(store)
    at = domain.lifecycle.clock.now().replace(microsecond=0) + timedelta(hours=3)
    first = await domain.decisions.approve(post_id, seen("U0ANN"), post_at=at)
    assert first.verdict == Verdict.DONE
    assert await status_of(store, post_id) == PostStatus.PENDING
    assert await publishes(store, post_id) == 0
    second = await domain.decisions.approve(post_id, seen("U0BOB"), post_at=at)
    assert second.post is not None and second.post.status == PostStatus.SCHEDULED
    assert second.post.scheduled_for == at
    (job,) = [j for j in await store.jobs.for_post(post_id) if j.kind == PUBLISH]
    assert job.next_attempt_at == at


async def test_a_plain_approve_completing_the_count_schedules_for_the_time_carried(
    store: Store,
) -> None:
    """Schedule… by the first approver carries its time: the second approver's plain
    Approve & post schedules the post then (it doesn't publish at once)."""
    domain = domain_of(store, required_approvals=2)
    post_id = await pending_post(store)
    at = domain.lifecycle.clock.now().replace(microsecond=0) + timedelta(hours=3)
    assert (await domain.decisions.approve(post_id, seen("U0ANN"), post_at=at)).done
    (recorded,) = await store.approvals.for_post(post_id)
    assert recorded.post_at == at
    second = await domain.decisions.approve(post_id, seen("U0BOB"))
    assert second.post is not None and second.post.status == PostStatus.SCHEDULED
    assert second.post.scheduled_for == at
    (job,) = [j for j in await store.jobs.for_post(post_id) if j.kind == PUBLISH]
    assert job.next_attempt_at == at


async def test_the_latest_schedule_among_the_approvals_wins(store: Store) -> None:
    """With three needed, two Schedule… times: the later click's time is the one kept, and
    the last approver's own Schedule… time beats both."""
    domain = domain_of(store, required_approvals=3)
    now = domain.lifecycle.clock.now().replace(microsecond=0)
    first, second, own = (now + timedelta(hours=h) for h in (5, 2, 7))
    post_id = await pending_post(store)
    await domain.decisions.approve(post_id, seen("U0ANN"), post_at=first)
    await domain.decisions.approve(post_id, seen("U0BOB"), post_at=second)
    state = await domain_cards_state(domain, post_id)
    assert state.carried is not None and (state.carried.at, state.carried.by) == (second, "U0BOB")
    last = await domain.decisions.approve(post_id, seen("U0CAT"), post_at=own)
    assert last.post is not None and last.post.scheduled_for == own


async def test_a_carried_time_that_has_passed_publishes_at_once(store: Store) -> None:
    """When the last approval comes after the time an earlier Schedule… chose, the post is
    published at once (as a requester's passed time is)."""
    clock = MovableClock()
    domain = domain_of(store, required_approvals=2, clock=clock)
    post_id = await pending_post(store)
    at = clock.now().replace(microsecond=0) + timedelta(minutes=30)
    await domain.decisions.approve(post_id, seen("U0ANN"), post_at=at)
    clock.advance(timedelta(hours=1))
    second = await domain.decisions.approve(post_id, seen("U0BOB"))
    assert second.post is not None and second.post.status == PostStatus.APPROVED
    assert second.post.scheduled_for is None
    assert await publishes(store, post_id) == 1


async def test_an_edit_clears_a_carried_time_with_the_approvals(store: Store) -> None:
    """A Schedule… is an approval of one version: after an edit the new version's approvals
    carry no time, and the last Approve & post publishes at once."""
    domain = domain_of(store, required_approvals=2)
    post_id = await pending_post(store)
    at = domain.lifecycle.clock.now().replace(microsecond=0) + timedelta(hours=3)
    await domain.decisions.approve(post_id, seen("U0ANN"), post_at=at)
    assert (await domain.editing.edit(post_id, seen(REQUESTER), "Hello, world!")).done
    assert (await domain_cards_state(domain, post_id)).carried is None
    await domain.decisions.approve(post_id, seen("U0ANN", version=2))
    final = await domain.decisions.approve(post_id, seen("U0BOB", version=2))
    assert final.post is not None and final.post.status == PostStatus.APPROVED


async def test_the_overview_lists_pending_posts_with_their_approvals(store: Store) -> None:
    """App Home's data: each pending post comes with who approved it so far and the time a
    Schedule… carries; with one approval needed, nothing is read or said."""
    domain = domain_of(store, required_approvals=2)
    waiting, untouched = await pending_post(store), await pending_post(store)
    at = domain.lifecycle.clock.now().replace(microsecond=0) + timedelta(hours=3)
    await domain.decisions.approve(waiting, seen("U0ANN"), post_at=at)
    home = await Overview(store, domain.policy, JobTypes()).home("U0BOB")
    shown = {listed.post.id: listed.approvals for listed in home.pending}
    state = shown[waiting]
    assert state is not None and state.tally.progress == "1 of 2"
    assert state.carried is not None and state.carried.at == at
    assert shown[untouched] is not None and not shown[untouched].shown
    single = await Overview(store, domain_of(store).policy, JobTypes()).home("U0BOB")
    assert all(listed.approvals is None for listed in single.pending)


async def test_one_approval_by_default_publishes_at_once(store: Store) -> None:
    """With the default of one, Approve publishes as it always did, and the approval is kept."""
    domain = domain_of(store)
    post_id = await pending_post(store)
    assert (await domain.decisions.approve(post_id, seen("U0ANN"))).done
    assert await status_of(store, post_id) == PostStatus.APPROVED
    assert await publishes(store, post_id) == 1
    assert await store.approvals.standing(post_id, 1) == ["U0ANN"]


async def test_the_same_approver_twice_is_told_and_counted_once(store: Store) -> None:
    """A second click by the same approver changes nothing and is answered as already
    approved by them; the audit records the refusal."""
    domain = domain_of(store, required_approvals=2)
    post_id = await pending_post(store)
    await domain.decisions.approve(post_id, seen("U0ANN"))
    again = await domain.decisions.approve(post_id, seen("U0ANN"))
    assert again.verdict == Verdict.APPROVED_BY_YOU
    assert await store.approvals.standing(post_id, 1) == ["U0ANN"]
    assert await status_of(store, post_id) == PostStatus.PENDING
    outcomes = [e.outcome for e in await store.audit.for_post(post_id)]
    assert outcomes[-1] == "refused:approved_by_you"


async def test_the_requester_never_counts_unless_self_approval(store: Store) -> None:
    """The requester's approval is refused as their own post; with self-approval allowed it
    counts like anyone's."""
    strict = domain_of(store, required_approvals=2)
    post_id = await pending_post(store)
    refused = await strict.decisions.approve(post_id, seen(REQUESTER))
    assert refused.verdict == Verdict.OWN_POST
    assert await store.approvals.standing(post_id, 1) == []

    lenient = domain_of(store, required_approvals=2, allow_self_approval=True)
    post_id = await pending_post(store)
    assert (await lenient.decisions.approve(post_id, seen(REQUESTER))).done
    assert (await lenient.decisions.approve(post_id, seen("U0ANN"))).done
    assert await status_of(store, post_id) == PostStatus.APPROVED


async def test_an_edit_clears_the_approvals_and_they_start_again(store: Store) -> None:
    """An edit makes a new version and clears the approvals so far (kept as history); the
    old card's click is stale; approvals of the new version start from zero."""
    domain = domain_of(store, required_approvals=2)
    post_id = await pending_post(store)
    await domain.decisions.approve(post_id, seen("U0ANN"))
    edited = await domain.editing.edit(post_id, seen(REQUESTER), "Hello, world!")
    assert edited.done and edited.post is not None and edited.post.version == 2
    assert await store.approvals.standing(post_id, 1) == []
    assert [a.cleared_at is not None for a in await store.approvals.for_post(post_id)] == [True]
    stale = await domain.decisions.approve(post_id, seen("U0BOB", version=1))
    assert stale.verdict == Verdict.STALE_VERSION
    assert (await domain.decisions.approve(post_id, seen("U0BOB", version=2))).done
    assert await status_of(store, post_id) == PostStatus.PENDING
    assert (await domain.decisions.approve(post_id, seen("U0ANN", version=2))).done
    assert await status_of(store, post_id) == PostStatus.APPROVED


async def test_regenerate_and_thread_clear_the_approvals(store: Store) -> None:
    """Regenerate and Post as a thread change what would be published: they clear the
    approvals collected so far too."""
    domain = domain_of(store, required_approvals=2)
    post_id = await pending_post(store)
    await domain.decisions.approve(post_id, seen("U0ANN"))
    assert (await domain.editing.make_thread(post_id, seen(REQUESTER))).done
    assert await store.approvals.standing(post_id, 1) == []
    await domain.decisions.approve(post_id, seen("U0ANN"))
    assert (await domain.editing.regenerate(post_id, seen(REQUESTER), None)).done
    assert await store.approvals.standing(post_id, 1) == []
    assert len(await store.approvals.for_post(post_id)) == 2


async def test_reject_by_any_approver_ends_it(store: Store) -> None:
    """One approval recorded, then one approver rejects: the post is rejected at once."""
    domain = domain_of(store, required_approvals=2)
    post_id = await pending_post(store)
    await domain.decisions.approve(post_id, seen("U0ANN"))
    assert (await domain.decisions.reject(post_id, seen("U0BOB"))).done
    assert await status_of(store, post_id) == PostStatus.REJECTED
    late = await domain.decisions.approve(post_id, seen("U0CAT"))
    assert late.verdict == Verdict.ALREADY_REJECTED


async def test_group_members_approve_and_leavers_stop_counting(store: Store) -> None:
    """Members of an approver group approve; an outsider is refused; someone who left the
    group after approving no longer counts towards the total."""
    directory = Directory({"S0LEGAL": frozenset({"U0ANN", "U0BOB"})})
    domain = domain_of(store, "S0LEGAL", "U0DAN", required_approvals=2, members=directory)
    post_id = await pending_post(store)
    outsider = await domain.decisions.approve(post_id, seen("U0EVE"))
    assert outsider.verdict == Verdict.NOT_APPROVER
    assert (await domain.decisions.approve(post_id, seen("U0ANN"))).done
    directory.known["S0LEGAL"] = frozenset({"U0BOB"})
    assert (await domain.decisions.approve(post_id, seen("U0BOB"))).done
    assert await status_of(store, post_id) == PostStatus.PENDING, "U0ANN left: 1 of 2"
    assert (await domain.decisions.approve(post_id, seen("U0DAN"))).done
    assert await status_of(store, post_id) == PostStatus.APPROVED


async def test_a_group_never_resolved_lets_nobody_approve(store: Store) -> None:
    """With only a group configured and Slack never having answered, nobody approves."""
    domain = domain_of(store, "S0LEGAL", members=Directory())
    post_id = await pending_post(store)
    refused = await domain.decisions.approve(post_id, seen("U0ANN"))
    assert refused.verdict == Verdict.NOT_APPROVER


async def test_many_approvers_at_once_publish_once(store: Store) -> None:
    """Twenty approvers clicking at once on posts needing two or three approvals: each post
    is approved once with exactly that many approvals, one publish each, the other clicks
    told it is already approved."""
    for required in (2, 3):
        domain = domain_of(store, required_approvals=required)
        post_id = await pending_post(store)
        outcomes = await asyncio.gather(
            *(domain.decisions.approve(post_id, seen(f"U0A{n:02d}")) for n in range(20))
        )
        verdicts = [outcome.verdict for outcome in outcomes]
        assert verdicts.count(Verdict.DONE) == required
        assert verdicts.count(Verdict.ALREADY_APPROVED) == 20 - required
        assert await status_of(store, post_id) == PostStatus.APPROVED
        assert await publishes(store, post_id) == 1
        assert len(await store.approvals.standing(post_id, 1)) == required


async def test_the_same_approver_many_times_at_once_counts_once(store: Store) -> None:
    """One approver's click delivered many times at once counts once: the post waits."""
    domain = domain_of(store, required_approvals=2)
    post_id = await pending_post(store)
    outcomes = await asyncio.gather(
        *(domain.decisions.approve(post_id, seen("U0ANN")) for _ in range(20))
    )
    verdicts = [outcome.verdict for outcome in outcomes]
    assert verdicts.count(Verdict.DONE) == 1
    assert verdicts.count(Verdict.APPROVED_BY_YOU) == 19
    assert await status_of(store, post_id) == PostStatus.PENDING


async def test_an_edit_racing_the_last_approval_never_publishes_unapproved_text(
    store: Store,
) -> None:
    """An edit racing the approval that would complete the post: either the post is approved
    at the version both approvers saw (and the edit is refused), or the edit wins and the
    approvals are cleared (and the approval is refused as stale): never a published text
    that the approvals were not given for."""
    domain = domain_of(store, required_approvals=2)
    for _ in range(15):
        post_id = await pending_post(store)
        await domain.decisions.approve(post_id, seen("U0ANN"))
        approved, edited = await asyncio.gather(
            domain.decisions.approve(post_id, seen("U0BOB")),
            domain.editing.edit(post_id, seen(REQUESTER), "Changed words"),
        )
        post = await store.posts.get(post_id)
        assert post is not None
        assert approved.done != edited.done
        if approved.done:
            assert post.status == PostStatus.APPROVED and post.message == "Hello world"
            assert edited.verdict in (Verdict.NOT_EDITABLE, Verdict.ALREADY_APPROVED)
        else:
            assert post.status == PostStatus.PENDING and post.version == 2
            assert approved.verdict == Verdict.STALE_VERSION
            assert await store.approvals.standing(post_id, 2) == []
            assert await publishes(store, post_id) == 0


async def test_two_processes_approving_at_once_on_postgres_publish_once(
    postgres_url: str,
) -> None:
    """Two stores on one PostgreSQL database (two processes): the two approvals a post needs,
    clicked at the same moment in different processes, publish it exactly once, on every one
    of many posts; the same approver in both counts once."""
    stores = [await open_store(postgres_url) for _ in range(2)]
    try:
        domains: list[Domain] = [domain_of(s, required_approvals=2) for s in stores]
        for _ in range(12):
            post_id = await pending_post(stores[0])
            outcomes = await asyncio.gather(
                domains[0].decisions.approve(post_id, seen("U0ANN")),
                domains[1].decisions.approve(post_id, seen("U0BOB")),
            )
            assert all(outcome.done for outcome in outcomes)
            assert await status_of(stores[0], post_id) == PostStatus.APPROVED
            assert await publishes(stores[1], post_id) == 1

            post_id = await pending_post(stores[0])
            twice = await asyncio.gather(
                domains[0].decisions.approve(post_id, seen("U0ANN")),
                domains[1].decisions.approve(post_id, seen("U0ANN")),
            )
            assert sorted(o.verdict for o in twice) == [Verdict.APPROVED_BY_YOU, Verdict.DONE]
            assert await stores[1].approvals.standing(post_id, 1) == ["U0ANN"]
            assert await status_of(stores[0], post_id) == PostStatus.PENDING
    finally:
        for opened in stores:
            await opened.close()
