"""Several real bot processes on one PostgreSQL database, with the Slack emulator giving each
envelope to one of their Socket Mode connections at random (as Slack does): every click,
submission and job lands in whichever process, and the team still sees everything once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from storage import Store, open_store
from storage.models import JobStatus, PostStatus
from tests.support.emulators.base import wait_until
from tests.support.emulators.slack import Message
from tests.support.harness import (
    APPROVER,
    OTHER_APPROVER,
    REQUESTER,
    BotProcess,
    World,
    draft_from_brief,
)

# The subprocesses import for ~10 s each on an idle machine; these waits are generous.
START_TIMEOUT = 120.0


@pytest.fixture
async def shared(world: World, postgres_url: str) -> AsyncIterator[World]:
    """The emulated world whose bots share one fresh PostgreSQL database, with envelopes
    spread over the bots' connections at random (the bots' logs are printed afterwards, for
    a failure's report)."""
    world.database_url = postgres_url
    world.slack.dispatch = "random"
    world.openai.reply_with(draft_from_brief)
    yield world
    for process in world.processes:
        worth = [
            line
            for line in process.log().splitlines()
            if any(word in line.lower() for word in ("warn", "error", "exception", "suggestion"))
        ]
        print(f"--- {process.log_path.name}", *worth[-40:], sep="\n")


@pytest.fixture
async def store(shared: World) -> Any:
    """A store on the bots' database, for looking at what they did."""
    opened = await open_store(shared.database_url or "")
    yield opened
    await opened.close()


async def spawn_bots(world: World, count: int, **settings: str) -> list[BotProcess]:
    """Start `count` bot processes at once and wait until each has its Socket Mode
    connection."""
    before = len(world.slack.connection_ids)
    # Pings far enough apart that a busy machine's late pong doesn't make a process replace
    # its connection: the tests route some envelopes to a process's connection by its id.
    # Leases long enough that a busy machine's slow renewal doesn't hand a job over.
    settings = {"SOCIALPOST_SOCKET_PING_INTERVAL": "5", "SOCIALPOST_JOB_LEASE": "10", **settings}
    bots = list(
        await asyncio.gather(*(world.spawn_bot(connect=False, **settings) for _ in range(count)))
    )

    def connected() -> bool:
        for bot in bots:
            assert bot.process is not None
            if bot.process.returncode is not None:
                raise RuntimeError(f"a bot exited: {bot.log()[-3000:]}")
        return len(world.slack.connection_ids) >= before + count

    await wait_until(connected, timeout=START_TIMEOUT, message=f"{count} bots to connect")
    # A fresh process's first request pays for lazy imports: warm each one up, so the
    # test's own requests meet Slack's ack deadline on a busy machine too.
    for connection_id in world.slack.connection_ids[before:]:
        ack = await world.slack.slash_command(
            REQUESTER, "help", connection_id=connection_id, timeout=START_TIMEOUT
        )
        assert ack.received
    return bots


def modal_values(brief: str) -> dict[str, dict[str, Any]]:
    """The new-post modal filled in with `brief` (for X)."""
    return {"brief": {"brief": {"type": "plain_text_input", "value": brief}}}


def draft_cards(bot: BotProcess) -> list[Message]:
    """The cards showing a draft with its Approve button."""
    return [card for card in bot.cards() if "socialpost_approve" in card.buttons()]


def pid_of(owner: str | None) -> int:
    """The process id in a worker's lease owner name (host:pid:nonce)."""
    assert owner is not None
    return int(owner.split(":")[1])


async def test_concurrent_approvals_on_many_posts_from_several_processes_publish_each_once(
    shared: World, store: Store
) -> None:
    """Three processes; 8 posts, each clicked Approve 6 times at once (clicks spread over
    the processes at random, reaching more than one): exactly one tweet per post, every
    card says posted."""
    bots = await spawn_bots(shared, 3)
    posts = 8
    for n in range(posts):
        ack, _view = await bots[n % 3].submit(f"Release note number {n}")
        assert ack.received
    await wait_until(
        lambda: len(draft_cards(bots[0])) == posts, timeout=60, message="8 draft cards"
    )
    cards = draft_cards(bots[0])
    clicks = [
        bots[0].click(card, "approve", APPROVER if i % 2 else OTHER_APPROVER)
        for card in cards
        for i in range(6)
    ]
    acks = await asyncio.gather(*clicks)
    assert all(ack.received for ack in acks)
    await shared.x.wait_for_tweets(posts, timeout=120)

    async def all_posted() -> bool:
        return len(await store.posts.with_status([PostStatus.POSTED])) == posts

    await wait_until(all_posted, timeout=30, message="every post posted")
    await asyncio.sleep(1.0)
    assert len(shared.x.tweets) == posts
    assert len(shared.x.requests) == posts
    # Spread over the processes (a process whose connection was being renewed during the
    # burst on a loaded machine may get none: Slack only routes to open connections).
    handled = [n for n, bot in enumerate(bots) if "action=approve" in bot.log()]
    assert len(handled) >= 2, f"clicks reached only processes {handled}"


async def test_sigkill_of_the_process_holding_a_publish_another_finishes_it_once(
    shared: World, store: Store
) -> None:
    """Two processes; the one running a publish is killed (SIGKILL) while X holds the
    request: the other takes the job over once the lease ends, and there is one tweet."""
    bots = await spawn_bots(shared, 2, SOCIALPOST_JOB_LEASE="3")
    await bots[0].submit("The one post that must survive a crash")
    card = await bots[0].draft_card(timeout=60)
    shared.x.hold(1)
    await bots[0].click(card, "approve")
    await shared.x.wait_for_held(1, timeout=20)
    [held] = [
        job for job in await store.jobs.with_status(JobStatus.RUNNING) if job.kind == "publish"
    ]
    holder = next(
        bot for bot in bots if bot.process and bot.process.pid == pid_of(held.lease_owner)
    )
    survivor = next(bot for bot in bots if bot is not holder)
    await holder.kill()
    shared.x.release()

    async def finished() -> bool:
        job = await store.jobs.get(held.id)
        return job is not None and job.status in (JobStatus.DONE, JobStatus.DEAD)

    await wait_until(finished, timeout=60, message="the publish to be taken over")
    await asyncio.sleep(1.0)
    assert len(shared.x.tweets) == 1
    taken = await store.jobs.get(held.id)
    assert taken is not None and taken.attempts == held.attempts + 1
    assert len(shared.x.requests) == 2, "the survivor sent the publish once more (found live)"
    assert survivor.process is not None and survivor.process.returncode is None


async def test_the_same_submission_delivered_to_two_processes_makes_one_post(
    shared: World, store: Store
) -> None:
    """A view submission delivered to two processes at once: one post, one draft, and one
    drafting token spent (the next request still fits a limit of 2)."""
    bots = await spawn_bots(shared, 2, SOCIALPOST_RATE_LIMIT="2/3600")
    first, second = shared.slack.connection_ids[-2:]
    view = await bots[0].open_modal()
    stored = shared.slack.views[view["id"]]
    values = modal_values("Said once, delivered twice")
    acks = await asyncio.gather(
        shared.slack.submit_view(stored, REQUESTER, values, connection_id=first, timeout=30),
        shared.slack.submit_view(stored, REQUESTER, values, connection_id=second, timeout=30),
    )
    assert all(ack.received and not (ack.payload or {}).get("errors") for ack in acks)
    await bots[0].draft_card(timeout=60)
    await asyncio.sleep(1.0)
    assert sum((await store.posts.count_by_status()).values()) == 1
    assert len(shared.openai.requests) == 1
    view = await bots[0].open_modal()
    ack = await shared.slack.submit_view(
        view, REQUESTER, modal_values("The second request"), timeout=30
    )
    assert not (ack.payload or {}).get("errors"), "the duplicate spent no token"


async def test_the_drafting_rate_limit_holds_for_the_team_across_processes(
    shared: World, store: Store
) -> None:
    """Three processes, a limit of 3 drafts per user: 9 requests spread over the processes at
    random make 3 posts and 6 refusals (with buckets per process, each process would let
    through 3 of its own)."""
    bots = await spawn_bots(shared, 3, SOCIALPOST_RATE_LIMIT="3/3600")
    refused = 0
    for n in range(9):
        view = await bots[0].open_modal()
        ack = await shared.slack.submit_view(
            view, REQUESTER, modal_values(f"Request {n}"), timeout=30
        )
        assert ack.received
        errors = (ack.payload or {}).get("errors") or {}
        if errors:
            assert "drafting too fast" in errors["brief"]
            refused += 1
    assert refused == 6
    assert sum((await store.posts.count_by_status()).values()) == 3
