"""Texts that are costly to count, or that X refuses, through Edit, drafting, the card and
Approve: the bot stays responsive, and every problem is named where people see it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.platforms.x.count import TOO_COMPLEX
from tests.e2e.test_editors_desk import edit
from tests.support.emulators.base import wait_until
from tests.support.harness import APPROVER, REQUESTER, World

# Generous: the old counter blocked the loop for seconds on each of these (33 s for the
# first), the bounded one for milliseconds; a shared CI machine stays far below this.
MAX_LOOP_BLOCK = 0.25

# Before: parse_tweet on the event loop, ~45 s for 3,000 characters of "a.".
DOTS = "a." * 1500
# A TLD near the start, then a long unmatched tail: quadratic for twitter-text's search.
TLD_THEN_DOTS = "x.co." + "a." * 1000
# Chinese text with ASCII full stops and a link glued in: a single 2,000-character token.
GLUED_CJK = (
    "我们今天发布了新版本v1.2.3\uff0c欢迎大家下载试用.详情请见官网example.com了解更多." * 40
)[:2000]
# Too complex even for the bounded count (each word a second's work or more, for a lower
# bound of 23 each): refused as such after at most a second in a worker thread.
UNREACHABLE_TLD = " ".join(["a_" * 2000 + "b.com"] * 20)
# As an X thread, the old splitter counted this once per character: ~28 s per card render.
DOTS_THREAD = "a." * 150


@asynccontextmanager
async def loop_lag() -> AsyncIterator[list[float]]:
    """Watch the event loop: the list holds the longest time it was blocked, in seconds."""
    worst = [0.0]
    stop = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.005)
            worst[0] = max(worst[0], time.perf_counter() - started - 0.005)

    watcher = asyncio.create_task(watch())
    try:
        yield worst
    finally:
        stop.set()
        await watcher


async def test_worst_texts_saved_in_edit_are_refused_without_blocking(world: World) -> None:
    """Edit with the costliest texts: each is refused in the modal with its count (or as too
    complex), and the event loop is never blocked for long."""
    bot = await world.start_bot()
    await bot.submit()
    card = await bot.draft_card()
    async with loop_lag() as worst:
        for text, expected in [
            (DOTS, "at least 3000/280 characters"),
            (TLD_THEN_DOTS, "2024/280 characters"),
            (GLUED_CJK, "/280 characters"),
            (UNREACHABLE_TLD, TOO_COMPLEX),
        ]:
            ack = await edit(bot, card, REQUESTER, text)
            assert ack.payload["response_action"] == "errors"
            assert expected in ack.payload["errors"]["draft_text"]
    assert worst[0] < MAX_LOOP_BLOCK


async def test_costly_thread_is_drafted_rendered_and_approved_without_blocking(
    world: World,
) -> None:
    """An LLM writes a thread of "a.a.a…": the draft is measured, the card shows its parts,
    Approve publishes them, and the loop is never blocked for long."""
    world.openai.reply_with(DOTS_THREAD)
    bot = await world.start_bot()
    async with loop_lag() as worst:
        await bot.submit("Write a thread about dots")
        card = await bot.draft_card()
        assert "Thread of 2 posts" in card.all_text()
        await bot.click(card, "approve", APPROVER)
        await bot.wait_card(lambda c: "Publishing..." in c.all_text())
    # (The fake X checks each post with twitter-text itself, on this same loop: not timed.)
    tweets = await world.x.wait_for_tweets(2)
    assert [t.text[-4:] for t in tweets] == [" 1/2", " 2/2"]
    assert "".join(t.text[:-4] for t in tweets) == DOTS_THREAD
    assert worst[0] < MAX_LOOP_BLOCK


async def test_costly_drafts_are_flagged_on_the_card_without_blocking(world: World) -> None:
    """Costly single posts from the LLM (re-prompted, then kept and flagged) reach the card
    with their problem, while the loop stays free."""
    world.openai.reply_with(GLUED_CJK)
    bot = await world.start_bot()
    async with loop_lag() as worst:
        await bot.submit("Announce it in Chinese")
        card = await bot.draft_card()
        await bot.click(card, "approve", APPROVER)
        await wait_until(lambda: bot.ephemerals_for(APPROVER))
    assert worst[0] < MAX_LOOP_BLOCK
    assert "/280 characters, over the limit" in card.all_text()
    assert "over the limit" in bot.ephemerals_for(APPROVER)[0]


async def test_characters_x_refuses_are_named_on_card_approve_and_edit(world: World) -> None:
    """A draft holding U+FFFE fits the length but breaks X's rules: the card names the
    character, Approve is refused with it, and Edit refuses text holding U+FFFF."""
    world.openai.reply_with("Launch day is here\ufffe")
    bot = await world.start_bot()
    await bot.submit()
    card = await bot.draft_card()
    assert "contains U+FFFE, a character X refuses" in card.all_text()
    await bot.click(card, "approve", APPROVER)
    await wait_until(lambda: bot.ephemerals_for(APPROVER))
    assert "contains U+FFFE, a character X refuses" in bot.ephemerals_for(APPROVER)[0]
    assert not world.x.tweets
    ack = await edit(bot, card, REQUESTER, "Still broken\uffff")
    assert ack.payload["response_action"] == "errors"
    assert "contains U+FFFF, a character X refuses" in ack.payload["errors"]["draft_text"]
    ack = await edit(bot, card, REQUESTER, "Fixed now")
    assert not ack.payload
    fixed = await bot.wait_card(lambda c: "Fixed now" in c.all_text())
    await bot.click(fixed, "approve", APPROVER)
    tweets = await world.x.wait_for_tweets(1)
    assert tweets[0].text == "Fixed now"
