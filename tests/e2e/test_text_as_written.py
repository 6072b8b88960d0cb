"""Text reaches people exactly as written: hostile drafts stay text in Slack, and nothing long
is cut without a word (the edit modal, `/socialpost status`, App Home, prefills)."""

from __future__ import annotations

import json
from typing import Any

from services.platforms.x.thread import split_thread
from tests.support.emulators.base import Fault, wait_until
from tests.support.emulators.slack import Message
from tests.support.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    OTHER_APPROVER,
    REQUESTER,
    Bot,
    World,
    draft_from_brief,
)
from tests.support.slack_markup import HOSTILE, message_texts, mrkdwn_texts, unescaped

HOSTILE_DRAFT = f"Spring sale! {HOSTILE}"
MESSAGE_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral")
VIEW_METHODS = ("views.open", "views.update", "views.push", "views.publish")


def everything_sent_as_mrkdwn(world: World, acks: list[dict[str, Any]]) -> list[str]:
    """Every text the bot handed Slack that Slack reads as mrkdwn: message texts and blocks,
    views, and the answers given in acks."""
    texts: list[str] = []
    for call in world.slack.calls:
        if call.method in MESSAGE_METHODS:
            texts += message_texts(call.args)
        elif call.method in VIEW_METHODS:
            texts += mrkdwn_texts(call.args.get("view"))
    for payload in acks:
        texts += message_texts(payload)
    return texts


def draft_text(card: Message) -> str:
    """The plain-text draft sections of a card, joined."""
    return "\n".join(
        block["text"]["text"]
        for block in card.blocks
        if str(block.get("block_id", "")).startswith("draft")
    )


async def open_edit(bot: Bot, card: Message, user: str = REQUESTER) -> dict[str, Any]:
    """Click Edit on `card` and return the modal the bot opened."""
    before = len(bot.slack.calls)
    await bot.click(card, "edit", user)
    call = await bot.slack.wait_for_call("views.open", after=before)
    view: dict[str, Any] = call.response["view"]
    return view


async def test_hostile_text_never_reaches_slack_as_markup(world: World) -> None:
    """A draft, brief, edit, platform error and Slack error carrying `<!channel>`, `<@U1>` and
    `<https://x|y>` go through drafting, editing, a failed publish, status, App Home, a failed
    draft and an undeliverable card: everything the bot sends Slack shows them as text, and only
    the bot's own mentions and links are markup."""
    world.openai.reply_with(HOSTILE_DRAFT)
    bot = await world.start_bot()
    acks: list[dict[str, Any]] = []
    await bot.submit(f"Announce the sale {HOSTILE}")
    card = await bot.draft_card()
    assert draft_text(card) == HOSTILE_DRAFT
    assert "&lt;!channel&gt;" in card.text

    edited_draft = f"Edited: {HOSTILE}"
    view = await open_edit(bot, card)
    values = {"draft_text": {"draft_text": {"type": "plain_text_input", "value": edited_draft}}}
    assert not (await world.slack.submit_view(view, REQUESTER, values)).payload
    card = await bot.wait_card(lambda c: "Edited:" in draft_text(c))

    world.x.fail(Fault(status=400, json={"title": "Invalid Request", "detail": HOSTILE}))
    await bot.click(card, "approve")
    failed = await bot.wait_card(lambda c: "Failed to post to X" in c.all_text())
    assert "&lt;https://evil.example|bank login&gt;" in failed.text
    acks.append((await world.slack.slash_command(REQUESTER, "status")).payload or {})
    await world.slack.open_app_home(APPROVER)
    await wait_until(lambda: world.slack.home_views.get(APPROVER))
    await bot.click(failed, "retry")
    (tweet,) = await world.x.wait_for_tweets(1)
    assert tweet.text == edited_draft
    await bot.wait_card(lambda c: "Posted to X by" in c.all_text())

    world.openai.fail_always(Fault(status=500))
    world.anthropic.fail_always(Fault(status=500))
    await bot.submit(f"Will not be drafted {HOSTILE}")
    await bot.wait_card(lambda c: "Will not be drafted" in c.all_text() and "Unable" in c.text)
    await wait_until(lambda: bot.dms_to(REQUESTER))
    world.openai.recover()
    world.slack.fail_method_with_error("chat.postMessage", HOSTILE, times=2)
    await bot.submit("Will not reach the channel")
    await wait_until(lambda: len(bot.dms_to(REQUESTER)) == 2, timeout=10)
    await bot.settle()

    sent = everything_sent_as_mrkdwn(world, acks)
    ours = {
        "users": {REQUESTER, APPROVER, OTHER_APPROVER},
        "channels": {APPROVAL_CHANNEL},
        "urls": {f"https://x.com/i/web/status/{tweet.id}"},
    }
    assert unescaped(sent, **ours) == {}
    escaped = [text for text in sent if "&lt;!channel&gt;" in text]
    assert len(escaped) >= 10, "the hostile text should have been shown, escaped"
    assert any(f"<#{APPROVAL_CHANNEL}>" in dm.text for dm in bot.dms_to(REQUESTER))
    placeholder = world.slack.calls_to("chat.postMessage")[0].args
    assert placeholder["text"] == f"Drafting an X post for <@{REQUESTER}>..."


def long_thread(posts: int) -> str:
    """An X thread of `posts` explicit parts of about 200 characters each."""
    return "\n---\n".join(
        f"Part {n}: " + " ".join(f"word{n}-{k}" for k in range(22)) for n in range(1, posts + 1)
    )


async def test_long_thread_saved_unchanged_in_the_edit_modal_keeps_every_post(
    world: World,
) -> None:
    """A thread longer than one text box is edited post by post; saving it unchanged and
    approving publishes every post, as before the edit."""
    draft = long_thread(20)
    assert len(draft) > 3000
    world.openai.reply_with(draft)
    bot = await world.start_bot()
    await bot.submit("A thread about the whole release")
    card = await bot.draft_card()
    assert "Thread of 20 posts" in card.all_text()
    view = await open_edit(bot, card)
    inputs = [block for block in view["blocks"] if block["type"] == "input"]
    assert len(inputs) == 20
    ack = await world.slack.submit_view(view, REQUESTER)
    assert not ack.payload
    edited = await bot.wait_card(lambda c: "Version 2" in c.all_text())
    assert "Thread of 20 posts" in edited.all_text()
    await bot.click(edited, "approve")
    tweets = await world.x.wait_for_tweets(20)
    assert [t.text for t in tweets] == split_thread(draft)


async def test_brief_over_the_limit_is_never_cut_silently(world: World) -> None:
    """`/socialpost` with 2,500 characters opens the form with all of them and a notice, and
    refuses to draft until it is shortened; with more than the form can show, the text comes
    back privately, whole, and no form opens."""
    bot = await world.start_bot()
    brief = ("Our office moves to a new building next month. " * 52).strip()
    assert 2000 < len(brief) <= 3000
    view = await bot.open_modal(text=brief)
    box = next(b for b in view["blocks"] if b.get("block_id") == "brief")
    assert box["element"]["initial_value"] == brief
    assert f"Your text is {len(brief):,} characters" in json.dumps(view["blocks"])
    ack = await world.slack.submit_view(view, REQUESTER)
    assert ack.payload["response_action"] == "errors"
    assert f"The brief is {len(brief)} characters" in ack.payload["errors"]["brief"]

    opened = len(world.slack.calls_to("views.open"))
    longer = ("A very long brief pasted by mistake. " * 100).strip()
    answer = await world.slack.slash_command(REQUESTER, longer)
    assert f"Your text is {len(longer):,} characters" in answer.payload["text"]
    returned = [
        block["text"]["text"]
        for block in answer.payload["blocks"]
        if block["text"]["type"] == "plain_text"
    ]
    assert " ".join(returned) == longer
    assert len(world.slack.calls_to("views.open")) == opened
    assert await bot.runtime.store.posts.count_by_status() == {}


async def test_status_and_app_home_say_how_many_more_there_are(world: World) -> None:
    """With 12 pending posts, `/socialpost status` and App Home list the newest 10, count all
    12, and say where the other 2 are."""
    world.openai.reply_with(draft_from_brief)
    bot = await world.start_bot()
    for n in range(12):
        await bot.submit(f"Post number {n}")
    await wait_until(
        lambda: sum("socialpost_approve" in c.buttons() for c in bot.cards()) == 12, timeout=20
    )
    await bot.settle()
    status = (await world.slack.slash_command(APPROVER, "status")).payload
    assert status["text"] == "12 pending approval, 0 failed"
    (section,) = status["blocks"]
    lines = section["text"]["text"].split("\n")
    assert lines[0] == "*Pending approval (12)*" and len(lines) == 12
    assert lines[-1] == "_…and 2 more: see the whole queue in socialpost's App Home._"
    await world.slack.open_app_home(APPROVER)
    home = await wait_until(lambda: world.slack.home_views.get(APPROVER))
    shown = json.dumps(home["blocks"])
    assert "Pending approval (12)" in shown
    assert (
        f"Showing the newest 10 of 12 pending posts: the others are on their cards in "
        f"<#{APPROVAL_CHANNEL}>." in shown
    )
