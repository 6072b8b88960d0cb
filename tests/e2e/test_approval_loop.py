"""The approval loop end to end against the Slack emulator, fake LLMs and a fake X."""

from __future__ import annotations

import asyncio
import copy

from services.models import PostStatus
from tests.support.emulators.base import Fault, wait_until
from tests.support.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    DEFAULT_DRAFT,
    OTHER_APPROVER,
    OUTSIDER,
    REQUESTER,
    World,
)


async def test_command_to_tweet(world: World) -> None:
    """A submitted brief becomes a draft card; approving it posts exactly one tweet and the card
    shows who posted it and the link."""
    bot = await world.start_bot()
    ack, _view = await bot.submit("Announce the spring release")
    assert ack.in_time and not ack.payload
    placeholder = await bot.wait_card(lambda c: bool(c.text))
    assert "Drafting" in placeholder.history[0][0] if placeholder.history else placeholder.text
    card = await bot.draft_card()
    text = card.all_text()
    assert DEFAULT_DRAFT in text
    assert f"<@{REQUESTER}>" in text and "Announce the spring release" in text
    assert "/280" in text and "openai/gpt-4o-mini" in text
    assert set(card.buttons()) == {
        "socialpost_approve",
        "socialpost_schedule",
        "socialpost_edit",
        "socialpost_regenerate",
        "socialpost_suggest_changes",
        "socialpost_reject",
    }
    await bot.click(card, "approve", APPROVER)
    tweets = await world.x.wait_for_tweets(1)
    assert tweets[0].text == DEFAULT_DRAFT
    posted = await bot.wait_card(lambda c: "Posted to X by" in c.all_text())
    assert posted.ts == card.ts, "the same card is updated in place"
    assert f"https://x.com/i/web/status/{tweets[0].id}" in posted.all_text()
    assert f"Posted to X by <@{APPROVER}>" in posted.all_text()
    assert any("Publishing..." in text for text, _blocks in posted.history)
    assert posted.buttons() == {}
    await bot.settle()
    assert len(world.x.tweets) == 1
    post = (await bot.runtime.store.posts.with_status([PostStatus.POSTED]))[0]
    assert (post.external_id, post.approved_by) == (tweets[0].id, APPROVER)
    assert post.llm_provider == "openai" and post.prompt and post.raw_output == DEFAULT_DRAFT


async def test_placeholder_card_comes_before_the_draft(world: World) -> None:
    """While the LLM is still writing, the card already says it is drafting for the requester."""
    gate = asyncio.Event()

    async def slow_reply(_request: object) -> str:
        await gate.wait()
        return DEFAULT_DRAFT

    world.openai.reply_with(slow_reply)
    bot = await world.start_bot()
    await bot.submit()
    placeholder = await bot.wait_card(lambda c: "Drafting" in c.text)
    assert f"for <@{REQUESTER}>" in placeholder.text
    assert placeholder.buttons() == {}
    gate.set()
    card = await bot.draft_card()
    assert card.ts == placeholder.ts


async def test_reject(world: World) -> None:
    """Reject turns the card to "Rejected by @user", removes the buttons, publishes nothing."""
    bot = await world.start_bot()
    await bot.submit()
    card = await bot.draft_card()
    await bot.click(card, "reject", OTHER_APPROVER)
    rejected = await bot.wait_card(lambda c: "Rejected by" in c.all_text())
    assert f"Rejected by <@{OTHER_APPROVER}>" in rejected.all_text()
    assert rejected.buttons() == {}
    await bot.settle()
    assert world.x.requests == []


async def test_twenty_concurrent_approvals_post_one_tweet(world: World) -> None:
    """20 approve clicks at once (two approvers, double clicks): exactly one tweet; the
    losers are told privately that the post has already been approved."""
    bot = await world.start_bot()
    await bot.submit()
    card = await bot.draft_card()
    clickers = [APPROVER if i % 2 else OTHER_APPROVER for i in range(20)]
    await asyncio.gather(*(bot.click(card, "approve", user) for user in clickers))
    await world.x.wait_for_tweets(1)
    await bot.settle()
    assert len(world.x.requests) == 1

    def told() -> list[str]:
        return bot.ephemerals_for(APPROVER) + bot.ephemerals_for(OTHER_APPROVER)

    # Each refusal is sent after its click's ack, on its own: wait for the 19 to arrive.
    await wait_until(lambda: len(told()) >= 19)
    assert told().count("The post has already been approved.") == 19


async def test_click_on_a_decided_post_is_answered_privately(world: World) -> None:
    """After a rejection, an approve click gets "The post has already been rejected."."""
    bot = await world.start_bot()
    await bot.submit()
    card = await bot.draft_card()
    snapshot = copy.deepcopy(card)
    await bot.click(card, "reject", APPROVER)
    await bot.wait_card(lambda c: "Rejected by" in c.all_text())
    await bot.click_stale(snapshot, "approve", OTHER_APPROVER)
    await wait_until(lambda: bot.ephemerals_for(OTHER_APPROVER))
    assert bot.ephemerals_for(OTHER_APPROVER) == ["The post has already been rejected."]
    assert world.x.requests == []


async def test_non_approver_is_refused_and_the_card_stays_actionable(world: World) -> None:
    """Someone not in SOCIALPOST_APPROVERS gets a private refusal; an approver can still
    approve."""
    bot = await world.start_bot()
    await bot.submit()
    card = await bot.draft_card()
    await bot.click(card, "approve", OUTSIDER)
    await wait_until(lambda: bot.ephemerals_for(OUTSIDER))
    assert bot.ephemerals_for(OUTSIDER) == ["Only approvers can approve or reject posts."]
    ephemeral = next(e for e in world.slack.ephemerals if e["user"] == OUTSIDER)
    assert ephemeral["channel"] == APPROVAL_CHANNEL
    assert "socialpost_approve" in bot.cards()[0].buttons()
    await bot.click(card, "reject", OUTSIDER)
    await bot.click(card, "approve", APPROVER)
    await world.x.wait_for_tweets(1)


async def test_requester_cannot_approve_their_own_post(world: World) -> None:
    """An approver who asked for the post is refused by default."""
    bot = await world.start_bot()
    await bot.submit(user=APPROVER)
    card = await bot.draft_card()
    await bot.click(card, "approve", APPROVER)
    await wait_until(lambda: bot.ephemerals_for(APPROVER))
    assert bot.ephemerals_for(APPROVER) == ["You can't approve your own post."]
    assert world.x.requests == []


async def test_invalid_input_is_answered_in_the_modal_and_stores_nothing(world: World) -> None:
    """Empty or overlong brief, no platform, a forged platform or tone, Instagram without an
    image: errors next to the fields; no post, no LLM call."""
    bot = await world.start_bot()
    cases = [
        ({"brief": "   "}, "brief"),
        ({"brief": "x" * 2001}, "brief"),
        ({"platforms": ()}, "platform"),
        ({"platforms": ("myspace",)}, "platform"),
        ({"tone": "sarcastic"}, "tone"),
        ({"platforms": ("instagram",)}, "image_url"),
        ({"platforms": ("x",), "image_url": "not a url"}, "image_url"),
    ]
    for change, field in cases:
        ack, view = await bot.submit(**change)
        assert ack.payload is not None and ack.payload["response_action"] == "errors", change
        assert list(ack.payload["errors"]) == [field], change
        assert view["id"] not in world.slack.closed_views
    assert "2001" in str(world.slack.acks)
    assert await bot.runtime.store.posts.count_by_status() == {}
    assert world.openai.requests == [] and bot.cards() == []


async def test_fallback_model_is_shown_on_the_card(world: World) -> None:
    """The primary LLM answers 500: the second provider writes the draft and the card says a
    fallback was used."""
    world.openai.fail(Fault(status=500))
    world.anthropic.reply_with("Drafted by the backup model.")
    bot = await world.start_bot()
    await bot.submit()
    card = await bot.draft_card()
    text = card.all_text()
    assert "Drafted by the backup model." in text
    assert "anthropic/claude-3-5-haiku-latest" in text and "fallback" in text


async def test_all_providers_failing_tells_the_requester_and_keeps_the_brief(
    world: World,
) -> None:
    """Every LLM fails: the card and a DM say "Unable to generate content right now. Please
    try again", the card offers Retry, and the brief is kept; Retry drafts it once they're
    back."""
    world.openai.fail_always(Fault(status=500))
    world.anthropic.fail_always(Fault(status=503))
    bot = await world.start_bot()
    await bot.submit("Keep this brief safe")
    card = await bot.wait_card(lambda c: "Unable to generate content" in c.all_text())
    assert "Unable to generate content right now. Please try again" in card.all_text()
    assert "Keep this brief safe" in card.all_text()
    assert "socialpost_retry" in card.buttons()
    dms = await wait_until(lambda: bot.dms_to(REQUESTER))
    assert "Unable to generate content right now. Please try again" in dms[0].text
    post = (await bot.runtime.store.posts.with_status([PostStatus.FAILED_GENERATION]))[0]
    assert post.brief == "Keep this brief safe"


async def test_same_submission_delivered_twice_makes_one_post(world: World) -> None:
    """Slack re-delivers a view submission (same view id, new envelope): one post, one card,
    one LLM request."""
    bot = await world.start_bot()
    view = await bot.open_modal()
    values = {"brief": {"brief": {"type": "plain_text_input", "value": "Once only"}}}
    stored = world.slack.views[view["id"]]
    first = await world.slack.submit_view(stored, REQUESTER, values)
    world.slack.closed_views.discard(view["id"])
    second = await world.slack.submit_view(stored, REQUESTER, values)
    assert first.received and second.received
    await bot.draft_card()
    await bot.settle()
    assert len(bot.cards()) == 1
    assert len(world.openai.requests) == 1
    counts = await bot.runtime.store.posts.count_by_status()
    assert sum(counts.values()) == 1


async def test_prefilled_brief_help_and_status(world: World) -> None:
    """`/socialpost text` prefills the brief; `help` and `status` answer privately."""
    bot = await world.start_bot()
    view = await bot.open_modal(text="Our new office opens Monday")
    brief_block = next(b for b in view["blocks"] if b["block_id"] == "brief")
    assert brief_block["element"]["initial_value"] == "Our new office opens Monday"
    help_ack = await world.slack.slash_command(REQUESTER, "help")
    assert "/socialpost" in help_ack.payload["text"]
    await bot.submit("Pending one")
    await bot.draft_card()
    status_ack = await world.slack.slash_command(REQUESTER, "status")
    assert "1 pending approval" in status_ack.payload["text"]
    assert "Pending approval (1)" in str(status_ack.payload["blocks"])


async def test_platform_without_credentials_is_a_dry_run(world: World) -> None:
    """SOCIALPOST_DRY_RUN=auto and no X credentials: the card says dry run, approving calls
    nothing and the card says nothing was sent."""
    bot = await world.start_bot(
        X_API_KEY=None, X_API_SECRET=None, X_ACCESS_TOKEN=None, X_ACCESS_TOKEN_SECRET=None
    )
    await bot.submit()
    card = await bot.draft_card()
    assert "dry run" in card.all_text()
    await bot.click(card, "approve")
    posted = await bot.wait_card(lambda c: "Posted to X by" in c.all_text())
    assert "dry run: nothing was sent to X" in posted.all_text()
    await bot.settle()
    assert world.x.requests == []


async def test_dry_run_false_offers_only_configured_platforms(world: World) -> None:
    """SOCIALPOST_DRY_RUN=false: a platform without credentials is not in the modal, and a
    forged submission for it is refused."""
    bot = await world.start_bot(
        SOCIALPOST_DRY_RUN="false", INSTAGRAM_ACCESS_TOKEN=None, INSTAGRAM_USER_ID=None
    )
    view = await bot.open_modal()
    platform_block = next(b for b in view["blocks"] if b["block_id"] == "platform")
    assert [o["value"] for o in platform_block["element"]["options"]] == ["x", "linkedin"]
    ack, _ = await bot.submit(platforms=("instagram",), image_url="https://example.com/a.jpg")
    assert "platform" in ack.payload["errors"]
