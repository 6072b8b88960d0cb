"""Time on the card (SPEC 7.2), end to end with the real bot: Schedule…, Post now, Unschedule,
publishing at the time (also after kill -9: late within the grace, missed past it), Retrying
instead of a silent "Publishing...", reminders and expiry, and the races between them.

The bot runs on a clock the test moves on (no real waiting); after a restart the test starts
the bot on a clock set past the scheduled time.
"""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from handlers.blocks import messages
from services.models import PostStatus
from tests.support.clock import MovableClock
from tests.support.emulators.base import Fault, wait_until
from tests.support.emulators.slack import Ack, Message
from tests.support.harness import APPROVER, OTHER_APPROVER, REQUESTER, SlackUser, World

HOUR = 3600.0


def post_at_values(when: datetime | None) -> dict[str, Any]:
    """The Schedule… modal's state with `when` chosen in its datetimepicker."""
    chosen = int(when.timestamp()) if when is not None else None
    return {"post_at": {"post_at": {"type": "datetimepicker", "selected_date_time": chosen}}}


async def open_schedule(bot: SlackUser, card: Message, user: str = APPROVER) -> dict[str, Any]:
    """Click Schedule… on `card`; the modal it opened."""
    before = len(bot.slack.calls)
    await bot.click(card, "schedule", user)
    call = await bot.slack.wait_for_call("views.open", after=before)
    view: dict[str, Any] = call.response["view"]
    return view


async def schedule(
    bot: SlackUser, card: Message, when: datetime | None, user: str = APPROVER
) -> Ack:
    """Click Schedule… on `card`, pick `when`, submit; the submission's ack."""
    view = await open_schedule(bot, card, user)
    return await bot.slack.submit_view(view, user, post_at_values(when))


async def tick(bot: Any, clock: MovableClock, seconds: float) -> None:
    """Move the bot's time on and let it do what became due."""
    clock.advance(seconds)
    bot.runtime.worker.wake()
    await bot.settle()


async def post_status(bot: Any) -> PostStatus:
    """The status of the only post."""
    [post] = await bot.runtime.store.posts.with_status(list(PostStatus))
    status: PostStatus = post.status
    return status


def scheduled(card: Message) -> bool:
    return "Scheduled for <!date^" in card.all_text() and "socialpost_post_now" in card.buttons()


async def test_a_scheduled_post_goes_out_at_its_time_and_not_before(world: World) -> None:
    """Schedule… opens one "Post at" picker; the card then says "Scheduled for <time> by
    @approver" with Post now and Unschedule; X gets the post once its time comes, once."""
    clock = MovableClock()
    bot = await world.start_bot(clock=clock)
    await bot.submit()
    card = await bot.draft_card()
    view = await open_schedule(bot, card)
    [picker] = view["blocks"]
    assert picker["label"]["text"] == "Post at"
    assert picker["element"]["type"] == "datetimepicker"
    when = clock.now() + timedelta(seconds=HOUR)
    ack = await world.slack.submit_view(view, APPROVER, post_at_values(when))
    assert not ack.payload
    card = await bot.wait_card(scheduled)
    assert f"* by <@{APPROVER}>" in card.all_text()
    assert f"<!date^{int(when.timestamp())}^" in card.all_text()
    await tick(bot, clock, HOUR - 1)
    assert world.x.tweets == []
    await tick(bot, clock, 1.5)
    await world.x.wait_for_tweets(1)
    posted = await bot.wait_card(lambda c: "Posted to X by" in c.all_text())
    assert "Went out late" not in posted.all_text()
    await tick(bot, clock, HOUR)
    assert len(world.x.tweets) == 1


async def test_a_time_in_the_past_is_refused_in_the_modal(world: World) -> None:
    """A past (or missing) time stays in the modal with the reason; the post stays pending."""
    clock = MovableClock()
    bot = await world.start_bot(clock=clock)
    await bot.submit()
    card = await bot.draft_card()
    ack = await schedule(bot, card, clock.now() - timedelta(minutes=1))
    assert ack.payload == {
        "response_action": "errors",
        "errors": {"post_at": messages.POST_AT_PAST},
    }
    ack = await schedule(bot, card, None)
    assert ack.payload == {
        "response_action": "errors",
        "errors": {"post_at": messages.POST_AT_MISSING},
    }
    await bot.settle()
    assert await post_status(bot) == PostStatus.PENDING


async def test_unschedule_makes_the_post_pending_and_nothing_goes_out(world: World) -> None:
    """Unschedule gives the card its decision buttons back; the time passes unpublished."""
    clock = MovableClock()
    bot = await world.start_bot(clock=clock)
    await bot.submit()
    ack = await schedule(bot, await bot.draft_card(), clock.now() + timedelta(minutes=5))
    assert not ack.payload
    await bot.click(await bot.wait_card(scheduled), "unschedule")
    card = await bot.wait_card(lambda c: "socialpost_approve" in c.buttons())
    assert "Scheduled for" not in card.all_text()
    await tick(bot, clock, 600)
    assert world.x.tweets == []
    assert await post_status(bot) == PostStatus.PENDING


async def test_post_now_clicked_many_times_publishes_once(world: World) -> None:
    """Post now at once; clicked eight times together, X gets one post and the others are
    told privately that it is already being published."""
    clock = MovableClock()
    bot = await world.start_bot(clock=clock)
    await bot.submit()
    await schedule(bot, await bot.draft_card(), clock.now() + timedelta(seconds=HOUR))
    card = await bot.wait_card(scheduled)
    # X holds its answer so the post is still on its way out when every click lands (a
    # click after it is posted is told "already been approved", SPEC's word for that).
    world.x.hold()
    await asyncio.gather(*(bot.click(card, "post_now", APPROVER) for _ in range(8)))
    await world.x.wait_for_tweets(1)
    await wait_until(lambda: len(bot.ephemerals_for(APPROVER)) == 7)
    assert set(bot.ephemerals_for(APPROVER)) == {messages.ALREADY_PUBLISHING}
    world.x.release()
    await bot.settle()
    await tick(bot, clock, 2 * HOUR)
    assert len(world.x.tweets) == 1


async def test_schedule_and_approve_racing_on_one_card_have_one_winner(world: World) -> None:
    """Five Schedule… submissions and five Approve clicks at once: exactly one decision
    stands, the others are told privately, and X gets at most one post, ever."""
    clock = MovableClock()
    bot = await world.start_bot(clock=clock)
    await bot.submit()
    card = await bot.draft_card()
    views = [await open_schedule(bot, card, OTHER_APPROVER) for _ in range(5)]
    when = clock.now() + timedelta(minutes=10)
    acks = await asyncio.gather(
        *(world.slack.submit_view(view, OTHER_APPROVER, post_at_values(when)) for view in views),
        *(bot.click(card, "approve", APPROVER) for _ in range(5)),
    )
    await bot.settle()
    status = await post_status(bot)
    schedule_refusals = [ack for ack in acks[:5] if ack.payload]
    if status == PostStatus.SCHEDULED:
        assert len(schedule_refusals) == 4
        await wait_until(lambda: len(bot.ephemerals_for(APPROVER)) == 5)
        assert world.x.tweets == []
    else:
        assert status == PostStatus.POSTED
        assert len(schedule_refusals) == 5
        await wait_until(lambda: len(bot.ephemerals_for(APPROVER)) == 4)
    await tick(bot, clock, HOUR)
    assert len(world.x.tweets) == 1


async def test_unschedule_racing_the_moment_of_publishing_has_one_winner(world: World) -> None:
    """Unschedule clicked six times just as the time comes: either the post went out once
    (and every Unschedule was told so) or it is pending and nothing went out."""
    clock = MovableClock()
    bot = await world.start_bot(clock=clock)
    await bot.submit()
    await schedule(bot, await bot.draft_card(), clock.now() + timedelta(seconds=60))
    card = await bot.wait_card(scheduled)
    clock.advance(61)
    bot.runtime.worker.wake()
    await asyncio.gather(*(bot.click(card, "unschedule", APPROVER) for _ in range(6)))
    await bot.settle()
    await tick(bot, clock, HOUR)
    status = await post_status(bot)
    if status == PostStatus.POSTED:
        assert len(world.x.tweets) == 1
        await wait_until(lambda: len(bot.ephemerals_for(APPROVER)) == 6)
    else:
        assert status == PostStatus.PENDING
        assert world.x.tweets == []
        await wait_until(lambda: len(bot.ephemerals_for(APPROVER)) == 5)


async def kill_while_scheduled(world: World, minutes: float) -> datetime:
    """A bot process schedules a post `minutes` ahead and is killed (-9) before its time;
    the time it was scheduled for."""
    process = await world.spawn_bot()
    await process.submit()
    card = await process.draft_card(timeout=20)
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=minutes)
    ack = await schedule(process, card, when)
    assert not ack.payload
    await process.wait_card(scheduled, timeout=20)
    await process.kill()
    return when


async def test_after_kill_9_a_post_goes_out_late_within_the_grace_and_says_so(
    world: World,
) -> None:
    """Killed before its time and started 20 minutes after it (grace: an hour), the post is
    published once at start-up and the card says it went out late."""
    when = await kill_while_scheduled(world, 10)
    clock = MovableClock(when + timedelta(minutes=20))
    bot = await world.start_bot(clock=clock)
    await world.x.wait_for_tweets(1, timeout=10)
    card = await bot.wait_card(lambda c: "Went out late" in c.all_text())
    assert "Posted to X by" in card.all_text()
    await tick(bot, clock, HOUR)
    assert len(world.x.tweets) == 1


async def test_after_kill_9_a_post_past_the_grace_is_missed_then_retry_posts_it(
    world: World,
) -> None:
    """Started later than SOCIALPOST_SCHEDULE_GRACE after its time, the post is not published:
    the card says it missed its time, with Retry and Discard; Retry posts it once."""
    when = await kill_while_scheduled(world, 10)
    clock = MovableClock(when + timedelta(minutes=30))
    bot = await world.start_bot(clock=clock, SOCIALPOST_SCHEDULE_GRACE="600")
    card = await bot.wait_card(lambda c: "Missed its time" in c.all_text())
    assert {"socialpost_retry", "socialpost_discard"} <= set(card.buttons())
    await bot.settle()
    assert world.x.tweets == []
    await bot.click(card, "retry")
    await world.x.wait_for_tweets(1)
    await bot.wait_card(lambda c: "Posted to X by" in c.all_text())
    assert len(world.x.tweets) == 1


async def approved_while_x_is_down(world: World, clock: MovableClock) -> Any:
    """A bot whose next automatic try is 10 minutes away, and a post approved while X
    answers 503."""
    bot = await world.start_bot(
        clock=clock,
        SOCIALPOST_RETRY_MAX_ATTEMPTS="10",
        SOCIALPOST_RETRY_BASE_DELAY="600",
        SOCIALPOST_RETRY_MAX_DELAY="600",
    )
    world.x.fail_always(Fault(status=503))
    await bot.submit()
    await bot.click(await bot.draft_card(), "approve")
    return bot


async def test_a_publish_waiting_for_a_retry_says_so_and_retry_now_tries_at_once(
    world: World,
) -> None:
    """X answering 503: the card says "Retrying: X is not answering ... Next try <time>."
    with Retry now and Discard (never Publishing... while nothing is in flight); Retry now
    after X recovers posts it once."""
    clock = MovableClock()
    bot = await approved_while_x_is_down(world, clock)
    card = await bot.wait_card(lambda c: "Retrying: X is not answering" in c.all_text())
    assert "Next try <!date^" in card.all_text() and "Publishing" not in card.all_text()
    assert {"socialpost_retry_now", "socialpost_discard"} <= set(card.buttons())
    await bot.settle()
    world.x.recover()
    await bot.click(card, "retry_now")
    await world.x.wait_for_tweets(1)
    await bot.wait_card(lambda c: "Posted to X by" in c.all_text())
    await tick(bot, clock, 2 * HOUR)
    assert len(world.x.tweets) == 1


async def test_discard_while_retrying_publishes_nothing(world: World) -> None:
    """Discard on a Retrying card rejects the post; when X recovers, nothing goes out."""
    clock = MovableClock()
    bot = await approved_while_x_is_down(world, clock)
    card = await bot.wait_card(lambda c: "Retrying: X" in c.all_text())
    await bot.settle()
    await bot.click(card, "discard")
    await bot.wait_card(lambda c: "Rejected by" in c.all_text())
    world.x.recover()
    await tick(bot, clock, 2 * HOUR)
    assert world.x.tweets == []
    assert await post_status(bot) == PostStatus.REJECTED


async def test_a_waiting_draft_is_reminded_once_then_expires_and_can_be_revived(
    world: World,
) -> None:
    """After SOCIALPOST_APPROVAL_REMINDER one reply in the card's thread names the
    approvers; after SOCIALPOST_APPROVAL_TTL the card says it expired (with Revive), its old
    buttons answer "The post has expired.", and Revive makes it pending again."""
    clock = MovableClock()
    bot = await world.start_bot(
        clock=clock, SOCIALPOST_APPROVAL_REMINDER="60", SOCIALPOST_APPROVAL_TTL="120"
    )
    await bot.submit()
    card = copy.deepcopy(await bot.draft_card())
    await bot.settle()
    await tick(bot, clock, 61)
    await tick(bot, clock, 30)
    replies = world.slack.thread_replies(card.channel, card.ts)
    assert len(replies) == 1
    assert f"<@{APPROVER}>" in replies[0].text and f"<@{OTHER_APPROVER}>" in replies[0].text
    await tick(bot, clock, 30)
    expired = await bot.wait_card(lambda c: messages.EXPIRED_CARD in c.all_text())
    assert set(expired.buttons()) == {"socialpost_revive"}
    await bot.click_stale(card, "approve")
    await wait_until(lambda: messages.EXPIRED in bot.ephemerals_for(APPROVER))
    await bot.click(expired, "revive", REQUESTER)
    await bot.wait_card(lambda c: "socialpost_approve" in c.buttons())
    assert await post_status(bot) == PostStatus.PENDING
    assert len(world.slack.thread_replies(card.channel, card.ts)) == 1


async def test_revive_racing_revive_and_an_approval_meanwhile(world: World) -> None:
    """Six Revive clicks at once revive the post once; a Revive that arrives after someone
    approved it is told privately "The post has already been approved."; one post goes out."""
    clock = MovableClock()
    bot = await world.start_bot(clock=clock, SOCIALPOST_APPROVAL_TTL="60")
    await bot.submit()
    await bot.draft_card()
    await bot.settle()
    await tick(bot, clock, 61)
    expired = copy.deepcopy(await bot.wait_card(lambda c: messages.EXPIRED_CARD in c.all_text()))
    await asyncio.gather(*(bot.click(expired, "revive", APPROVER) for _ in range(6)))
    await wait_until(lambda: bot.ephemerals_for(APPROVER).count(messages.NOT_EXPIRED) == 5)
    pending = await bot.wait_card(lambda c: "socialpost_approve" in c.buttons())
    await bot.click(pending, "approve", OTHER_APPROVER)
    await world.x.wait_for_tweets(1)
    await bot.click_stale(expired, "revive", REQUESTER)
    await wait_until(lambda: messages.ALREADY_APPROVED in bot.ephemerals_for(REQUESTER))
    assert len(world.x.tweets) == 1


async def test_a_requested_time_shows_on_the_card_and_approve_schedules_for_it(
    world: World,
) -> None:
    """The new-post modal's optional "Post at" shows as "Requested for <time>"; Approve &
    post then schedules the post for that time; status and App Home list it with its time."""
    clock = MovableClock()
    bot = await world.start_bot(clock=clock)
    view = await bot.open_modal()
    assert any(block.get("block_id") == "post_at" for block in view["blocks"])
    when = clock.now().replace(microsecond=0) + timedelta(hours=2)
    values = {
        "brief": {"brief": {"type": "plain_text_input", "value": "Announce the spring release"}},
        "platform": {
            "platform": {
                "type": "checkboxes",
                "selected_options": [{"value": "x", "text": {"type": "plain_text", "text": "X"}}],
            }
        },
        **post_at_values(when),
    }
    ack = await world.slack.submit_view(view, REQUESTER, values)
    assert not ack.payload
    card = await bot.draft_card()
    assert f"Requested for <!date^{int(when.timestamp())}^" in card.all_text()
    await bot.click(card, "approve")
    await bot.wait_card(scheduled)
    await bot.settle()
    assert world.x.tweets == []
    status = json.dumps((await world.slack.slash_command(APPROVER, "status")).payload)
    assert "Scheduled (1)" in status and f"<!date^{int(when.timestamp())}^" in status
    await tick(bot, clock, 2 * HOUR + 1)
    await world.x.wait_for_tweets(1)
    assert len(world.x.tweets) == 1
