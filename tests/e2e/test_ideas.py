"""Ideas on a schedule (SPEC 7.6) end to end: the real bot, the fake LLMs, a moved clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.runtime import Runtime
from services.ideas.schedule import run_key
from storage.models import IdeaRunStatus
from tests.support.clock import MovableClock
from tests.support.emulators.base import wait_until
from tests.support.emulators.slack import Message
from tests.support.harness import (
    APPROVAL_CHANNEL,
    REQUESTER,
    Bot,
    World,
    draft_from_brief,
    environment,
)

NINE = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
SCHEDULE = {
    "SOCIALPOST_IDEAS_SCHEDULE": "0 9 * * *",
    "SOCIALPOST_IDEAS_COUNT": "3",
    "SOCIALPOST_IDEAS_TOPICS": "Engineering culture at a small software company",
    "SOCIALPOST_SCHEDULE_GRACE": "3600",
}
IDEAS_SYSTEM = "You plan social media content"


def ideas(*titles: str) -> str:
    """An LLM answer proposing ideas with these titles."""
    return json.dumps(
        {
            "ideas": [
                {"title": t, "description": f"A post about {t.lower()}.", "category": "story"}
                for t in titles
            ]
        }
    )


class Planner:
    """The fake LLMs' answers: scripted ideas for the ideas prompt, drafts for the rest; it
    keeps the ideas prompts it was sent."""

    def __init__(self, world: World, *answers: str) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []
        world.openai.reply_with(self.reply)

    def reply(self, request: Any) -> str:
        if IDEAS_SYSTEM not in request.system:
            return draft_from_brief(request)
        self.prompts.append(request.user_text)
        return self.answers.pop(0) if self.answers else ideas("Nothing scripted")


def idea_cards(bot: Bot) -> list[Message]:
    """The draft cards the ideas schedule made."""
    return [
        card
        for card in bot.cards()
        if "socialpost_approve" in card.buttons() and "*Idea:*" in card.all_text()
    ]


async def wait_idea_cards(bot: Bot, count: int) -> list[Message]:
    await wait_until(lambda: len(idea_cards(bot)) >= count, timeout=20, message=f"{count} cards")
    await bot.settle()
    return idea_cards(bot)


async def test_a_scheduled_run_makes_a_card_per_idea_at_its_time(world: World) -> None:
    """Before 09:00 nothing happens; at 09:00 the LLM is asked once (topics in the prompt) and
    each idea becomes a draft card from "socialpost ideas" with its title; the run is
    recorded and tomorrow's time is claimed."""
    planner = Planner(world, ideas("Why we pair", "Our Q3 roadmap", "Meet our data scientists"))
    clock = MovableClock(NINE - timedelta(minutes=1))
    bot = await world.start_bot(clock=clock, **SCHEDULE)
    await bot.settle()
    assert planner.prompts == [] and bot.cards() == []
    store = bot.runtime.store
    queued = await store.ideas.get(run_key(NINE))
    assert queued is not None and queued.status == IdeaRunStatus.QUEUED

    clock.move_to(NINE)
    bot.runtime.worker.wake()
    cards = await wait_idea_cards(bot, 3)
    assert len(cards) == 3 and len(planner.prompts) == 1
    assert "Engineering culture at a small software company" in planner.prompts[0]
    texts = sorted(card.all_text() for card in cards)
    assert all("from socialpost ideas" in text for text in texts)
    assert any("*Idea:* Why we pair" in text for text in texts)
    assert any("Draft: Our Q3 roadmap" in text for text in texts)
    done = await store.ideas.get(run_key(NINE))
    assert done is not None and done.status == IdeaRunStatus.DONE and done.drafted == 3
    tomorrow = await store.ideas.get(run_key(NINE + timedelta(days=1)))
    assert tomorrow is not None and tomorrow.status == IdeaRunStatus.QUEUED


async def test_duplicates_are_dropped_and_asked_again_once(world: World) -> None:
    """`/socialpost ideas hiring`: an idea too close to a post of the last 30 days and one
    too close to another in the answer are dropped; the LLM is asked once more, with them
    to avoid, for the missing ones; the run's record and /socialpost status say so."""
    planner = Planner(
        world,
        ideas("Our first hackathon: lessons learned", "Why we pair", "Why we pair!"),
        ideas("How we hire engineers", "Our Q3 roadmap"),
    )
    bot = await world.start_bot(SOCIALPOST_IDEAS_COUNT="3")
    await bot.submit("Lessons from our first hackathon")
    await bot.draft_card()
    ack = await world.slack.slash_command(REQUESTER, "ideas hiring")
    assert "Proposing ideas now" in json.dumps(ack.payload)
    cards = await wait_idea_cards(bot, 3)
    titles = sorted(t for c in cards for t in c.all_text().split("\n") if "*Idea:*" in t)
    assert titles == [
        "*Idea:* How we hire engineers",
        "*Idea:* Our Q3 roadmap",
        "*Idea:* Why we pair",
    ]
    assert len(planner.prompts) == 2, "asked again once"
    assert "<topic>\nhiring\n</topic>" in planner.prompts[0]
    assert "Lessons from our first hackathon" in planner.prompts[0]
    assert "Propose 2 different ideas" in planner.prompts[1]
    assert "Why we pair!" in planner.prompts[1]
    [run] = await bot.runtime.store.ideas.recent()
    assert run.requested_by == REQUESTER and run.topic == "hiring"
    assert run.dropped == 2 and run.drafted == 3
    status = await world.slack.slash_command(REQUESTER, "status")
    assert "3 ideas drafted, 2 dropped as duplicates" in json.dumps(status.payload)


async def test_a_malformed_answer_twice_fails_the_run_visibly(world: World) -> None:
    """Two answers that are not ideas: no card, and a message in the approval channel says
    the run failed and why."""
    planner = Planner(world, "Sure! Here are some ideas: 1. Tips", '{"ideas": []}')
    bot = await world.start_bot()
    await world.slack.slash_command(REQUESTER, "ideas")
    notice = await bot.wait_card(lambda m: "Ideas run failed" in m.text, what="failure notice")
    assert "could not be read" in notice.text and "Nothing was drafted" in notice.text
    await bot.settle()
    assert idea_cards(bot) == [] and len(planner.prompts) == 2


async def test_a_restart_never_runs_a_time_twice_and_a_missed_one_runs_once(
    world: World,
) -> None:
    """A bot stopped at 08:50 and started again at 09:20 (within the grace) runs 09:00 once
    at start-up; started again, it runs nothing more; a time missed by more than the grace
    is recorded as missed and not run."""
    planner = Planner(world, ideas("Why we pair"), ideas("Our Q3 roadmap"))
    clock = MovableClock(NINE - timedelta(minutes=10))
    env = {**SCHEDULE, "SOCIALPOST_IDEAS_COUNT": "1"}
    bot = await world.start_bot(clock=clock, **env)
    await bot.settle()
    await bot.stop()

    clock.move_to(NINE + timedelta(minutes=20))
    bot = await world.start_bot(clock=clock, **env)
    await wait_idea_cards(bot, 1)
    await bot.stop()
    bot = await world.start_bot(clock=clock, **env)
    await bot.settle()
    assert len(idea_cards(bot)) == 1 and len(planner.prompts) == 1
    await bot.stop()

    clock.move_to(NINE + timedelta(days=1, hours=2))
    bot = await world.start_bot(clock=clock, **env)
    await bot.settle()
    missed = await bot.runtime.store.ideas.get(run_key(NINE + timedelta(days=1)))
    assert missed is not None and missed.status == IdeaRunStatus.MISSED
    assert "SOCIALPOST_SCHEDULE_GRACE" in (missed.detail or "")
    assert len(planner.prompts) == 1, "a time older than the grace is not run"


@pytest.fixture
def world_on_postgres(world: World, postgres_url: str) -> World:
    """The emulated world whose bots keep their data in a fresh PostgreSQL database."""
    world.database_url = postgres_url
    return world


async def test_two_processes_on_one_database_run_a_time_once(world_on_postgres: World) -> None:
    """Two runtimes (as two processes) on one PostgreSQL database, both up at 09:00 with the
    same schedule: the time is claimed once, the LLM asked once, three cards made."""
    world = world_on_postgres
    planner = Planner(world, ideas("Why we pair", "Our Q3 roadmap", "Meet our data scientists"))
    clock = MovableClock(NINE - timedelta(seconds=5))
    from bot.settings import load_settings

    with environment(world.bot_environment(**SCHEDULE)):
        settings = load_settings(env_file=None)
    runtimes = [await Runtime.open(settings, clock=clock) for _ in range(2)]
    try:
        for runtime in runtimes:
            await runtime.start()
        clock.move_to(NINE)
        for runtime in runtimes:
            runtime.worker.wake()
        await wait_until(
            lambda: (
                len(world.slack.channel_messages(APPROVAL_CHANNEL)) >= 3
                and all(
                    "Draft:" in m.all_text() for m in world.slack.channel_messages(APPROVAL_CHANNEL)
                )
            ),
            timeout=20,
            message="three drafted cards",
        )
        for runtime in runtimes:
            await runtime.worker.drain()
        assert len(planner.prompts) == 1
        assert len(world.slack.channel_messages(APPROVAL_CHANNEL)) == 3
        runs = await runtimes[0].store.ideas.recent()
        assert sorted(run.key for run in runs) == [
            run_key(NINE),
            run_key(NINE + timedelta(days=1)),
        ]
    finally:
        for runtime in runtimes:
            await runtime.aclose()
