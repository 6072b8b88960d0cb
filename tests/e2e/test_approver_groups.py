"""Approver groups and several approvals, end to end: the real bot against the Slack emulator
(usergroups.users.list, subteam_members_changed), the fake LLMs and a fake X."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from services.models import PostStatus
from tests.e2e.test_editors_desk import edit
from tests.e2e.test_time_on_the_card import HOUR, schedule, scheduled, tick
from tests.support.clock import MovableClock
from tests.support.emulators.base import wait_until
from tests.support.emulators.slack import Message
from tests.support.harness import (
    APPROVER,
    OTHER_APPROVER,
    OUTSIDER,
    REQUESTER,
    Bot,
    World,
)

LEGAL = "S0LEGAL"
ANN, BOB, CAT = "U0ANN", "U0BOB", "U0CAT"
ALREADY = "You have already approved this post."
NOT_APPROVER = "Only approvers can approve or reject posts."


async def refused_approval(bot: Bot, card: Message, user: str) -> list[str]:
    """`user` clicks Approve on `card`; what they are told privately (once they are)."""
    await bot.click(card, "approve", user)
    return list(await wait_until(lambda: bot.ephemerals_for(user)))


async def test_two_of_a_group_publish_after_the_second(world: World) -> None:
    """With a user group as approvers and two approvals needed: the first member's click
    says "Approved by @a (1 of 2)" on the card, which keeps its buttons; the same member
    again is told privately and nothing changes; a second member's click publishes once."""
    world.slack.add_usergroup(LEGAL, [ANN, BOB], handle="legal")
    bot = await world.start_bot(SOCIALPOST_APPROVERS=LEGAL, SOCIALPOST_REQUIRED_APPROVALS="2")
    assert [c.args["usergroup"] for c in world.slack.calls_to("usergroups.users.list")] == [LEGAL]
    await bot.submit()
    card = await bot.draft_card()
    await bot.click(card, "approve", ANN)
    half = await bot.wait_card(lambda c: "(1 of 2)" in c.all_text())
    assert f"Approved by <@{ANN}> (1 of 2)" in half.all_text()
    assert "socialpost_approve" in half.buttons() and "socialpost_reject" in half.buttons()
    await bot.click(half, "approve", ANN)
    assert await wait_until(lambda: ALREADY in bot.ephemerals_for(ANN))
    assert await refused_approval(bot, half, OUTSIDER) == [NOT_APPROVER]
    await bot.settle()
    assert world.x.tweets == []
    await bot.click(half, "approve", BOB)
    tweets = await world.x.wait_for_tweets(1)
    posted = await bot.wait_card(lambda c: "Posted to X by" in c.all_text())
    assert f"Posted to X by <@{BOB}>" in posted.all_text() and posted.buttons() == {}
    await bot.settle()
    assert len(world.x.tweets) == 1 and tweets[0].text
    post = (await bot.runtime.store.posts.with_status([PostStatus.POSTED]))[0]
    assert [a.approver for a in await bot.runtime.store.approvals.for_post(post.id)] == [ANN, BOB]


async def test_a_schedule_before_the_last_approval_carries_its_time_and_home_shows_it(
    world: World,
) -> None:
    """With two approvals needed: Schedule… by the first approver records "(1 of 2)" and the
    chosen time on the card and beside the post in App Home; the second approver's plain
    Approve & post schedules the post for that time, and X gets it then, once."""
    clock = MovableClock()
    bot = await world.start_bot(
        clock=clock,
        SOCIALPOST_APPROVERS=f"{ANN},{BOB}",
        SOCIALPOST_REQUIRED_APPROVALS="2",
    )
    await bot.submit()
    card = await bot.draft_card()
    when = (clock.now() + timedelta(seconds=2 * HOUR)).replace(microsecond=0)
    ack = await schedule(bot, card, when, ANN)
    assert not ack.payload
    half = await bot.wait_card(lambda c: "(1 of 2)" in c.all_text())
    stamp = f"<!date^{int(when.timestamp())}^"
    assert f"<@{ANN}> approved it for {stamp}" in half.all_text()
    assert "socialpost_approve" in half.buttons()
    await world.slack.open_app_home(BOB)
    home = await wait_until(lambda: world.slack.home_views.get(BOB))
    shown = json.dumps(home["blocks"])
    assert f"Approved by <@{ANN}> (1 of 2)" in shown and stamp in shown
    await bot.click(half, "approve", BOB)
    done = await bot.wait_card(scheduled)
    assert stamp in done.all_text()
    await tick(bot, clock, HOUR)
    assert world.x.tweets == []
    await tick(bot, clock, HOUR + 1)
    await world.x.wait_for_tweets(1)
    await tick(bot, clock, HOUR)
    assert len(world.x.tweets) == 1


async def test_a_member_added_in_slack_can_approve_at_once(world: World) -> None:
    """Someone added to the approver group in Slack is refused before and, once Slack sends
    subteam_members_changed, approves (the bot asked usergroups.users.list again); someone
    removed no longer can."""
    world.slack.add_usergroup(LEGAL, [ANN])
    bot = await world.start_bot(SOCIALPOST_APPROVERS=LEGAL)
    await bot.submit()
    card = await bot.draft_card()
    assert await refused_approval(bot, card, CAT) == [NOT_APPROVER]

    asked = len(world.slack.calls_to("usergroups.users.list"))
    refreshed = bot.runtime.approver_groups.next_refresh()
    await world.slack.change_usergroup_members(LEGAL, [CAT])
    async with asyncio.timeout(10):
        await refreshed
    assert len(world.slack.calls_to("usergroups.users.list")) == asked + 1
    assert await refused_approval(bot, card, ANN) == [NOT_APPROVER]
    await bot.click(card, "approve", CAT)
    await world.x.wait_for_tweets(1)


async def test_slack_failing_keeps_the_members_and_never_opens_approval(world: World) -> None:
    """When Slack fails to list a group at start-up, nobody from it approves (never
    everyone); once it answered, a later failure keeps the members it gave."""
    world.slack.add_usergroup(LEGAL, [ANN])
    world.slack.fail_method_with_error("usergroups.users.list", "missing_scope")
    bot = await world.start_bot(SOCIALPOST_APPROVERS=LEGAL)
    await bot.submit()
    card = await bot.draft_card()
    assert await refused_approval(bot, card, ANN) == [NOT_APPROVER]

    groups = bot.runtime.approver_groups
    refreshed = groups.next_refresh()
    groups.changed(LEGAL)
    async with asyncio.timeout(10):
        await refreshed
    world.slack.fail_method_with_error("usergroups.users.list", "ratelimited", retry_after=30)
    refreshed = groups.next_refresh()
    await world.slack.change_usergroup_members(LEGAL, [BOB])
    async with asyncio.timeout(10):
        await refreshed
    assert groups.members_of(LEGAL) == {ANN}, "kept while Slack doesn't answer"
    await bot.click(card, "approve", ANN)
    await world.x.wait_for_tweets(1)


async def test_an_edit_clears_the_approvals_and_the_card_says_so(world: World) -> None:
    """One approval of two, then the requester edits: the card says the approvals were
    cleared and the old approver must approve the new version again; two approvals of it
    publish the edited text."""
    bot = await world.start_bot(SOCIALPOST_REQUIRED_APPROVALS="2")
    await bot.submit()
    card = await bot.draft_card()
    await bot.click(card, "approve", APPROVER)
    half = await bot.wait_card(lambda c: "(1 of 2)" in c.all_text())
    await edit(bot, half, REQUESTER, "Edited after one approval.")
    cleared = await bot.wait_card(lambda c: "Approvals cleared" in c.all_text())
    assert (
        f"Approvals cleared: the draft changed after <@{APPROVER}> approved it, "
        "so this version starts again (0 of 2)."
    ) in cleared.all_text()
    assert "Approved by" not in cleared.all_text()
    await bot.click(cleared, "approve", APPROVER)
    again = await bot.wait_card(lambda c: f"Approved by <@{APPROVER}> (1 of 2)" in c.all_text())
    assert "Approvals cleared" not in again.all_text()
    await bot.click(again, "approve", OTHER_APPROVER)
    tweets = await world.x.wait_for_tweets(1)
    assert tweets[0].text == "Edited after one approval."


async def test_many_clicks_at_once_publish_once(world: World) -> None:
    """Both approvers clicking Approve many times at the same moment on a post needing two:
    one tweet, and every extra click of each is told privately it was already approved."""
    bot = await world.start_bot(SOCIALPOST_REQUIRED_APPROVALS="2")
    await bot.submit()
    card = await bot.draft_card()
    await asyncio.gather(
        *(bot.click(card, "approve", user) for _ in range(6) for user in (APPROVER, OTHER_APPROVER))
    )
    await world.x.wait_for_tweets(1)
    await bot.settle()
    assert len(world.x.tweets) == 1
    refusals = bot.ephemerals_for(APPROVER) + bot.ephemerals_for(OTHER_APPROVER)
    assert len(refusals) == 10
    assert set(refusals) <= {ALREADY, "The post has already been approved."}
