"""The editor's desk: Edit, Regenerate, X threads, several platforms at once, App Home."""

from __future__ import annotations

import json

from services.models import PostStatus
from tests.support.emulators.base import Fault, wait_until
from tests.support.harness import (
    APPROVER,
    DEFAULT_DRAFT,
    OTHER_APPROVER,
    OUTSIDER,
    REQUESTER,
    World,
    draft_from_brief,
)

THREAD_DRAFT = (
    "We rebuilt our approval flow from scratch this quarter.\n---\n"
    "Drafts now arrive in Slack within seconds, and nothing goes out without a human.\n---\n"
    "Try it today and tell us what you think!"
)


async def edit(bot: object, card: object, user: str, text: str) -> object:
    """Click Edit on `card`, type `text`, submit; returns the submission's ack."""
    before = len(bot.slack.calls)
    await bot.click(card, "edit", user)
    call = await bot.slack.wait_for_call("views.open", after=before)
    view = call.response["view"]
    values = {"draft_text": {"draft_text": {"type": "plain_text_input", "value": text}}}
    return await bot.slack.submit_view(view, user, values)


async def suggest_changes(bot: object, card: object, user: str, feedback: str | None) -> object:
    """Click "Suggest changes…" on `card`, give feedback, submit; returns the submission's ack."""
    before = len(bot.slack.calls)
    await bot.click(card, "suggest_changes", user)
    call = await bot.slack.wait_for_call("views.open", after=before)
    values = {"feedback": {"feedback": {"type": "plain_text_input", "value": feedback}}}
    return await bot.slack.submit_view(call.response["view"], user, values)


async def test_edit_then_approve_posts_the_edited_text(world: World) -> None:
    """The edit modal is prefilled with the draft; the edited text becomes version 2 on the
    card (with the editor) and is what X receives."""
    bot = await world.start_bot()
    await bot.submit()
    card = await bot.draft_card()
    before = len(world.slack.calls)
    await bot.click(card, "edit", REQUESTER)
    opened = await world.slack.wait_for_call("views.open", after=before)
    box = opened.response["view"]["blocks"][0]["element"]
    assert box["initial_value"] == DEFAULT_DRAFT
    ack = await world.slack.submit_view(
        opened.response["view"],
        REQUESTER,
        {"draft_text": {"draft_text": {"type": "plain_text_input", "value": "Edited by hand."}}},
    )
    assert not ack.payload
    edited = await bot.wait_card(lambda c: "Edited by hand." in c.all_text())
    assert f"Version 2, edited by <@{REQUESTER}>" in edited.all_text()
    await bot.click(edited, "approve", APPROVER)
    tweets = await world.x.wait_for_tweets(1)
    assert tweets[0].text == "Edited by hand."
    await bot.settle()
    post = (await bot.runtime.store.posts.with_status([PostStatus.POSTED]))[0]
    versions = await bot.runtime.store.posts.versions(post.id)
    assert [(v.version, v.source, v.author) for v in versions] == [
        (1, "generated", None),
        (2, "edited", REQUESTER),
    ]


async def test_over_limit_edit_is_refused_in_the_modal(world: World) -> None:
    """An edit over X's 280 weighted characters stays in the modal with its measured count."""
    bot = await world.start_bot()
    await bot.submit()
    card = await bot.draft_card()
    ack = await edit(bot, card, APPROVER, "日" * 150)
    assert ack.payload["response_action"] == "errors"
    assert "300/280" in ack.payload["errors"]["draft_text"]
    assert DEFAULT_DRAFT in bot.cards()[0].all_text()


async def test_outsiders_cannot_edit(world: World) -> None:
    """Only approvers and the requester may edit: others get a private refusal, no modal."""
    bot = await world.start_bot()
    await bot.submit()
    card = await bot.draft_card()
    await bot.click(card, "edit", OUTSIDER)
    await wait_until(lambda: bot.ephemerals_for(OUTSIDER))
    assert bot.ephemerals_for(OUTSIDER) == [
        "Only approvers and the requester can change this draft."
    ]
    assert world.slack.calls_to("views.open") == [world.slack.calls_to("views.open")[0]]


async def test_regenerate_click_writes_a_new_version(world: World) -> None:
    """A click on Regenerate sends a new LLM request from the same brief at once, and the
    card shows the new draft as version 2."""
    bot = await world.start_bot()
    await bot.submit("Announce the picnic")
    card = await bot.draft_card()
    world.openai.reply_with("Picnic on Friday: bring snacks!")
    await bot.click(card, "regenerate", APPROVER)
    new = await bot.wait_card(lambda c: "Picnic on Friday: bring snacks!" in c.all_text())
    assert "Version 2" in new.all_text()
    assert len(world.openai.requests) == 2
    assert "Announce the picnic" in world.openai.requests[1].user_text


async def test_suggest_changes_regenerates_with_feedback(world: World) -> None:
    """ "Suggest changes…" asks for feedback; the new LLM request carries the previous draft and
    the feedback, and the card shows the new draft."""
    bot = await world.start_bot()
    await bot.submit()
    card = await bot.draft_card()
    world.openai.reply_with("A shorter, more playful take.")
    ack = await suggest_changes(bot, card, REQUESTER, "shorter and more playful")
    assert not ack.payload
    new = await bot.wait_card(lambda c: "A shorter, more playful take." in c.all_text())
    assert "Version 2" in new.all_text()
    request = world.openai.requests[-1]
    assert "shorter and more playful" in request.user_text
    assert DEFAULT_DRAFT in request.user_text
    post = (await bot.runtime.store.posts.with_status([PostStatus.PENDING]))[0]
    sources = [v.source for v in await bot.runtime.store.posts.versions(post.id)]
    assert sources == ["generated", "regenerated"]


async def test_failed_regeneration_keeps_the_previous_version(world: World) -> None:
    """If no LLM answers a regeneration, the card goes back to the previous draft and says
    that generation failed."""
    bot = await world.start_bot()
    await bot.submit()
    card = await bot.draft_card()
    world.openai.fail_always(Fault(status=500))
    world.anthropic.fail_always(Fault(status=500))
    await bot.click(card, "regenerate", APPROVER)
    back = await bot.wait_card(
        lambda c: "previous version" in c.all_text() and "socialpost_approve" in c.buttons()
    )
    assert DEFAULT_DRAFT in back.all_text()
    assert "Unable to generate content right now. Please try again" in back.all_text()


async def test_thread_is_posted_as_a_reply_chain(world: World) -> None:
    """A brief asking for a thread gets numbered parts; approving posts them as a reply
    chain, in order."""
    world.openai.reply_with(THREAD_DRAFT)
    bot = await world.start_bot()
    await bot.submit("A thread about our new approval flow")
    card = await bot.draft_card()
    assert "Thread of 3 posts" in card.all_text()
    assert "---" in world.openai.requests[0].user_text
    await bot.click(card, "approve")
    tweets = await world.x.wait_for_tweets(3)
    assert [t.text.rsplit(" ", 1)[1] for t in tweets] == ["1/3", "2/3", "3/3"]
    assert tweets[0].text.startswith("We rebuilt our approval flow")
    assert [t.in_reply_to for t in tweets] == [None, tweets[0].id, tweets[1].id]
    posted = await bot.wait_card(lambda c: "Posted to X by" in c.all_text())
    assert f"https://x.com/i/web/status/{tweets[0].id}" in posted.all_text()


async def test_thread_failure_at_part_2_resumes_at_part_2(world: World) -> None:
    """X fails on the second part: the retry continues with part 2 replying to part 1, and
    part 1 is never posted again."""
    world.openai.reply_with(THREAD_DRAFT)
    bot = await world.start_bot()
    await bot.submit("Write a thread about it")
    card = await bot.draft_card()
    world.x.hold(1)
    await bot.click(card, "approve")
    await world.x.wait_for_held(1)
    world.x.fail(Fault(status=503), times=1)
    world.x.release()
    tweets = await world.x.wait_for_tweets(3)
    await bot.settle()
    texts = [request.json["text"] for request in world.x.requests]
    assert [text[-3:] for text in texts] == ["1/3", "2/3", "2/3", "3/3"]
    assert [t.in_reply_to for t in tweets] == [None, tweets[0].id, tweets[1].id]


async def test_permanent_failure_mid_thread_says_how_far_it_got(world: World) -> None:
    """A refused second part fails the post with the progress on the card; Retry continues
    from part 2."""
    world.openai.reply_with(THREAD_DRAFT)
    bot = await world.start_bot()
    await bot.submit("A thread please")
    card = await bot.draft_card()
    world.x.hold(1)
    await bot.click(card, "approve")
    await world.x.wait_for_held(1)
    world.x.fail(Fault(status=400, json={"title": "Invalid Request", "detail": "nope"}), times=1)
    world.x.release()
    failed = await bot.wait_card(lambda c: "Failed to post to X" in c.all_text())
    assert "1 of 3 posts are live" in failed.all_text()
    await bot.click(failed, "retry")
    tweets = await world.x.wait_for_tweets(3)
    assert len(world.x.tweets) == 3
    assert [t.in_reply_to for t in tweets] == [None, tweets[0].id, tweets[1].id]


async def test_long_x_draft_can_be_posted_as_a_thread(world: World) -> None:
    """A draft still over 280 after the re-prompts offers "Post as a thread"; after that
    Approve posts it as numbered replies."""
    long_text = "This sentence keeps the draft long on purpose. " * 12
    world.openai.reply_with(long_text)
    bot = await world.start_bot()
    await bot.submit()
    card = await bot.draft_card()
    assert "over the limit" in card.all_text()
    assert "socialpost_make_thread" in card.buttons()
    await bot.click(card, "approve")
    await wait_until(lambda: bot.ephemerals_for(APPROVER))
    assert "over the limit" in bot.ephemerals_for(APPROVER)[0]
    await bot.click(card, "make_thread", REQUESTER)
    thread = await bot.wait_card(lambda c: "Thread of" in c.all_text())
    await bot.click(thread, "approve")
    tweets = await world.x.wait_for_tweets(3)
    assert tweets[-1].text.endswith(f"{len(tweets)}/{len(tweets)}")


async def test_two_platforms_give_two_cards_approved_independently(world: World) -> None:
    """Choosing X and LinkedIn drafts twice and posts two cards; each is decided on its own."""
    bot = await world.start_bot()
    await bot.submit(platforms=("x", "linkedin"))
    cards = await wait_until(
        lambda: (
            [c for c in bot.cards() if "socialpost_approve" in c.buttons()]
            if len([c for c in bot.cards() if "socialpost_approve" in c.buttons()]) == 2
            else None
        )
    )
    x_card = next(c for c in cards if "X draft" in c.all_text())
    linkedin_card = next(c for c in cards if "LinkedIn draft" in c.all_text())
    assert len(world.openai.requests) == 2
    await bot.click(linkedin_card, "reject")
    await bot.click(x_card, "approve")
    await world.x.wait_for_tweets(1)
    await bot.settle()
    statuses = await bot.runtime.store.posts.count_by_status()
    assert statuses == {PostStatus.POSTED: 1, PostStatus.REJECTED: 1}


async def test_app_home_lists_pending_failed_and_posted_and_refreshes(world: World) -> None:
    """App Home shows pending approvals with their buttons, failures with Retry and recent
    posts with links, and is refreshed when something changes."""
    world.openai.reply_with(draft_from_brief)
    bot = await world.start_bot()
    await bot.submit("Will be posted")
    first = await bot.draft_card()
    await bot.click(first, "approve")
    await world.x.wait_for_tweets(1)
    world.x.fail_always(Fault(status=401, json={"title": "Unauthorized", "status": 401}))
    await bot.submit("Will fail")
    failing = await bot.wait_card(
        lambda c: "Will fail" in c.all_text() and "socialpost_approve" in c.buttons()
    )
    await bot.click(failing, "approve")
    await bot.wait_card(lambda c: "Failed to post to X" in c.all_text())
    await bot.submit("Still pending")
    await bot.wait_card(
        lambda c: "Still pending" in c.all_text() and "socialpost_approve" in c.buttons()
    )
    await bot.settle()

    await world.slack.open_app_home(APPROVER)
    home = await wait_until(lambda: world.slack.home_views.get(APPROVER))
    text = json.dumps(home["blocks"])
    assert "Pending approval (1)" in text and "Failed (1)" in text
    assert "View on X" in text and f"https://x.com/i/web/status/{world.x.tweets[0].id}" in text
    actions = {
        element["action_id"]
        for block in home["blocks"]
        for element in [*block.get("elements", []), block.get("accessory") or {}]
        if "action_id" in element
    }
    assert {"socialpost_approve", "socialpost_reject", "socialpost_retry"} <= actions

    pending_approve = next(
        element
        for block in home["blocks"]
        for element in block.get("elements", [])
        if element.get("action_id") == "socialpost_approve"
    )
    world.x.recover()
    await world.slack.click_button(
        APPROVER, "socialpost_approve", pending_approve["value"], view=home
    )
    await world.x.wait_for_tweets(2)
    refreshed = await wait_until(
        lambda: "Pending approval (0)" in json.dumps(world.slack.home_views[APPROVER]["blocks"])
    )
    assert refreshed


async def test_linkedin_post_reaches_linkedin_once_with_its_headers(world: World) -> None:
    """An approved LinkedIn draft is sent once to the Posts API with the version header and
    little-text escaping; the card links to the post."""
    world.openai.reply_with("Big news (really): we're hiring #engineers @ HQ!")
    bot = await world.start_bot()
    await bot.submit("Hiring post", platforms=("linkedin",))
    card = await bot.draft_card()
    await bot.click(card, "approve")
    (post,) = await world.linkedin.wait_for_posts(1)
    assert post.headers["LinkedIn-Version"] == "202610"
    assert post.headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert post.headers["Authorization"] == f"Bearer {world.linkedin.access_token}"
    assert post.author == "urn:li:organization:1234567"
    assert post.commentary == (
        "Big news \\(really\\): we're hiring {hashtag|\\#|engineers} \\@ HQ!"
    )
    assert post.unescaped_reserved == []
    posted = await bot.wait_card(lambda c: "Posted to LinkedIn by" in c.all_text())
    assert f"https://www.linkedin.com/feed/update/{post.urn}" in posted.all_text()
    await bot.settle()
    assert len(world.linkedin.requests) == 1


async def test_instagram_post_goes_through_container_and_publish_once(world: World) -> None:
    """An approved Instagram caption creates one media container with the image, publishes
    it once, and the card links to the permalink."""
    world.openai.reply_with("Sunset at the office. #team")
    bot = await world.start_bot()
    await bot.submit(
        "Team photo", platforms=("instagram",), image_url="https://example.com/team.jpg"
    )
    card = await bot.draft_card()
    await bot.click(card, "approve")
    (media,) = await world.instagram.wait_for_media(1)
    assert (media.caption, media.image_url) == (
        "Sunset at the office. #team",
        "https://example.com/team.jpg",
    )
    assert len(world.instagram.containers) == 1
    posted = await bot.wait_card(lambda c: "Posted to Instagram by" in c.all_text())
    assert media.permalink in posted.all_text()


STALE = "This draft has changed since this card was shown. Check the new version first."


async def test_approve_on_a_card_showing_an_old_version_publishes_nothing(world: World) -> None:
    """The requester edits while Slack holds the card update back (429): Approve on the card,
    which still shows version 1, publishes nothing and is answered privately; the card then
    shows version 2, and approving that publishes the edited text."""
    bot = await world.start_bot()
    await bot.submit()
    card = await bot.draft_card()
    await bot.settle()
    before = len(world.slack.calls)
    world.slack.fail_method_with_error("chat.update", "ratelimited", retry_after=2)
    assert not (await edit(bot, card, REQUESTER, "Text no approver has seen.")).payload
    await world.slack.wait_for_call("chat.update", after=before)
    assert DEFAULT_DRAFT in bot.cards()[0].all_text(), "the card still shows version 1"

    await bot.click(card, "approve", APPROVER)
    await wait_until(lambda: bot.ephemerals_for(APPROVER))
    assert bot.ephemerals_for(APPROVER) == [STALE]
    refreshed = await bot.wait_card(lambda c: "Text no approver has seen." in c.all_text())
    assert "Version 2" in refreshed.all_text()
    await bot.settle()
    assert world.x.requests == []
    post = (await bot.runtime.store.posts.with_status([PostStatus.PENDING]))[0]
    trail = [
        (e.actor, e.action, e.outcome) for e in await bot.runtime.store.audit.for_post(post.id)
    ]
    assert (APPROVER, "approve", "refused:stale_version") in trail

    await bot.click(refreshed, "approve", APPROVER)
    tweets = await world.x.wait_for_tweets(1)
    assert tweets[0].text == "Text no approver has seen."


async def test_an_edit_saved_from_an_outdated_modal_is_refused(world: World) -> None:
    """Two people open Edit on version 1; the first save wins, the second stays in its modal
    with the stale-version answer instead of overwriting text it never saw."""
    bot = await world.start_bot()
    await bot.submit()
    card = await bot.draft_card()
    before = len(world.slack.calls)
    await bot.click(card, "edit", REQUESTER)
    first = (await world.slack.wait_for_call("views.open", after=before)).response["view"]
    before = len(world.slack.calls)
    await bot.click(card, "edit", APPROVER)
    second = (await world.slack.wait_for_call("views.open", after=before)).response["view"]
    values = {"draft_text": {"draft_text": {"type": "plain_text_input", "value": "First save."}}}
    assert not (await world.slack.submit_view(first, REQUESTER, values)).payload
    late = {"draft_text": {"draft_text": {"type": "plain_text_input", "value": "Late save."}}}
    ack = await world.slack.submit_view(second, APPROVER, late)
    assert ack.payload == {"response_action": "errors", "errors": {"draft_text": STALE}}
    await bot.wait_card(lambda c: "First save." in c.all_text())
    post = (await bot.runtime.store.posts.with_status([PostStatus.PENDING]))[0]
    assert (post.message, post.version) == ("First save.", 2)


async def test_an_approver_who_edited_the_draft_cannot_approve_it(world: World) -> None:
    """An approver rewrites someone's draft, then approves it: refused privately as their own
    post (they wrote the current version); another approver can approve it."""
    bot = await world.start_bot()
    await bot.submit()
    card = await bot.draft_card()
    assert not (await edit(bot, card, APPROVER, "The approver's own words.")).payload
    edited = await bot.wait_card(lambda c: "The approver's own words." in c.all_text())
    await bot.click(edited, "approve", APPROVER)
    await wait_until(lambda: bot.ephemerals_for(APPROVER))
    assert bot.ephemerals_for(APPROVER) == ["You can't approve your own post."]
    await bot.settle()
    assert world.x.requests == []
    await bot.click(edited, "approve", OTHER_APPROVER)
    tweets = await world.x.wait_for_tweets(1)
    assert tweets[0].text == "The approver's own words."


async def test_a_change_refreshes_only_the_most_recent_app_home_tabs(world: World) -> None:
    """With 50 people having opened App Home, a new draft republishes only the 20 most recent
    viewers' tabs (with the new draft), however many card changes it takes."""
    bot = await world.start_bot()
    viewers = [f"U0VIEWER{n:02d}" for n in range(50)]
    for viewer in viewers:
        world.slack.add_user(viewer, viewer.lower())
        await world.slack.open_app_home(viewer)
    await wait_until(lambda: len(world.slack.calls_to("views.publish")) == len(viewers))
    before = len(world.slack.calls)
    await bot.submit()
    await bot.draft_card()
    await bot.settle()
    refreshed = [
        call.args["user_id"]
        for call in world.slack.calls[before:]
        if call.method == "views.publish"
    ]
    assert refreshed and set(refreshed) <= set(viewers[-20:])
    newest = json.dumps(world.slack.home_views[viewers[-1]]["blocks"])
    assert "Pending approval (1)" in newest
