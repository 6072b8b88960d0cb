"""The bot on PostgreSQL (SOCIALPOST_DATABASE_URL): the approval loop's own end-to-end tests,
run again with the bot's database on the test PostgreSQL server instead of a SQLite file.

Several processes sharing the database come in a later step; here one bot (in-process, or a
subprocess that is killed and started again) must behave on PostgreSQL as it does on SQLite.
"""

from __future__ import annotations

import asyncio

import pytest

from services.models import PostStatus
from storage import open_store
from storage.models import JobStatus
from tests.e2e import test_approval_loop, test_reliability
from tests.support.emulators.base import wait_until
from tests.support.harness import World


@pytest.fixture
def world_on_postgres(world: World, postgres_url: str) -> World:
    """The emulated world whose bots keep their data in a fresh PostgreSQL database."""
    world.database_url = postgres_url
    return world


async def test_command_to_tweet_on_postgres(world_on_postgres: World) -> None:
    """Submit, draft card, approve, exactly one tweet, card updated: with PostgreSQL."""
    await test_approval_loop.test_command_to_tweet(world_on_postgres)
    store = await open_store(world_on_postgres.database_url or "")
    try:
        posted = await store.posts.with_status([PostStatus.POSTED])
    finally:
        await store.close()
    assert len(posted) == 1, "the post lives in the PostgreSQL database"
    assert not world_on_postgres.db_path.exists(), "no SQLite file was made"


async def test_twenty_concurrent_approvals_post_one_tweet_on_postgres(
    world_on_postgres: World,
) -> None:
    """20 approve clicks at once on PostgreSQL: exactly one tweet, 19 told privately."""
    await test_approval_loop.test_twenty_concurrent_approvals_post_one_tweet(world_on_postgres)


async def test_same_submission_delivered_twice_makes_one_post_on_postgres(
    world_on_postgres: World,
) -> None:
    """A re-delivered view submission makes one post on PostgreSQL too."""
    await test_approval_loop.test_same_submission_delivered_twice_makes_one_post(world_on_postgres)


async def test_restart_with_a_pending_card_then_approve_on_postgres(
    world_on_postgres: World,
) -> None:
    """A bot restarted on the same PostgreSQL database still acts on the cards it made."""
    await test_reliability.test_restart_with_a_pending_card_then_approve(world_on_postgres)


async def test_sigkill_while_publish_in_flight_then_another_start_posts_once_on_postgres(
    world_on_postgres: World,
) -> None:
    """A bot process killed (SIGKILL) while X handles its publish: a new process on the same
    PostgreSQL database takes the job over once its lease ends (on the database's clock),
    under its own name, and there is still one tweet."""
    world = world_on_postgres
    store = await open_store(world.database_url or "")
    try:
        killed = await test_reliability.spawn_with_publish_in_flight(world)
        running = await store.jobs.with_status(JobStatus.RUNNING)
        [held] = [job for job in running if job.kind == "publish"]
        await killed.kill()
        world.x.release()
        restarted = await world.spawn_bot()

        def finished() -> bool:
            text = " ".join(card.all_text() for card in restarted.cards())
            return "may already be live" in text or "Posted to X" in text

        await wait_until(finished, timeout=30, message="the publish to end")
        await asyncio.sleep(0.5)
        assert len(world.x.tweets) == 1
        taken = await store.jobs.get(held.id)
        assert taken is not None and taken.attempts == held.attempts + 1
        assert taken.status in (JobStatus.DONE, JobStatus.DEAD)
    finally:
        await store.close()
