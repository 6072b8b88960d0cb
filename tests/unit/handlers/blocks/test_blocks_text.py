"""Every Block Kit builder shows outside text exactly as written: escaped wherever Slack reads
mrkdwn, and never cut without saying so."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers import ids
from handlers.blocks.card import approval_card, generation_failed_notice
from handlers.blocks.home import home_view
from handlers.blocks.messages import card_undeliverable
from handlers.blocks.modal import edit_modal, edited_text, new_post_modal, prefill_too_long
from handlers.blocks.status import status_blocks
from services.lifecycle import Action
from services.models import Job, JobStatus, Post, PostStatus
from services.overview import DeadJob, HomeData, Listed
from services.platforms.x.thread import split_thread
from tests.support.slack_markup import HOSTILE, message_texts, mrkdwn_texts, unescaped

REQUESTER = "U0REQ"
APPROVER = "U0APP"
CHANNEL = "C0APPROVALS"
URL = "https://x.com/i/web/status/42"
OURS: dict[str, Any] = {"users": {REQUESTER, APPROVER}, "channels": {CHANNEL}, "urls": {URL}}


def as_approver(posts: list[Post]) -> list[Listed]:
    """The posts as an approver's App Home lists them: with every action."""
    return [Listed(post, frozenset(Action)) for post in posts]


def hostile_post(**changes: Any) -> Post:
    """A post whose every outside string (draft, brief, reason, model names) is hostile."""
    values: dict[str, Any] = {
        "id": "post-1",
        "status": PostStatus.PENDING,
        "platform": "x",
        "message": HOSTILE,
        "requester": REQUESTER,
        "brief": HOSTILE,
        "llm_provider": "<!here>",
        "llm_model": HOSTILE,
        "llm_deployment": "<https://evil.example|primary>",
        "llm_fallback": True,
        "failure_reason": HOSTILE,
        "approved_by": APPROVER,
        "rejected_by": APPROVER,
        "edited_by": REQUESTER,
        "external_url": URL,
        "channel": CHANNEL,
        "version": 2,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    values.update(changes)
    return Post.model_validate(values)


def view_submitted_unchanged(view: dict[str, Any]) -> dict[str, Any]:
    """The view as Slack sends it back when nobody typed anything: boxes at their initial value."""
    values = {
        block["block_id"]: {
            block["element"]["action_id"]: {
                "type": "plain_text_input",
                "value": block["element"].get("initial_value"),
            }
        }
        for block in view["blocks"]
        if block["type"] == "input"
    }
    return {**view, "state": {"values": values}}


def boxes(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The edit modal's text boxes."""
    return [block for block in view["blocks"] if block["type"] == "input"]


@pytest.mark.parametrize("status", list(PostStatus))
@pytest.mark.parametrize("thread", [False, True])
@pytest.mark.parametrize("dry_run", [False, True])
def test_no_card_state_lets_outside_text_become_markup(
    status: PostStatus, thread: bool, dry_run: bool
) -> None:
    """In every state, the card's `text` and mrkdwn carry the hostile draft, brief, failure
    reason and model names escaped; only the requester, approver and the post's link are
    markup."""
    text, blocks = approval_card(hostile_post(status=status, thread=thread), dry_run=dry_run)
    assert unescaped(message_texts({"text": text, "blocks": blocks}), **OURS) == {}
    shown = json.dumps(blocks)
    assert "&lt;!channel&gt;" in shown or "&lt;!channel&gt;" in text


def test_written_by_shows_the_model_names_escaped() -> None:
    """The "Written by" line shows hostile provider and model names as text."""
    _, blocks = approval_card(hostile_post(), dry_run=False)
    line = next(t for t in mrkdwn_texts(blocks) if t.startswith("Written by"))
    assert line.startswith("Written by &lt;https://evil.example|primary&gt; (answered as &lt;")
    assert "(fallback: the first choice was unavailable)" in line


def test_placeholder_mentions_the_requester() -> None:
    """ "Drafting..." names the requester as a mention, in `text` and on the card."""
    text, blocks = approval_card(hostile_post(status=PostStatus.GENERATING), dry_run=False)
    assert text == f"Drafting an X post for <@{REQUESTER}>..."
    assert f":hourglass_flowing_sand: Drafting an X post for <@{REQUESTER}>..." in list(
        mrkdwn_texts(blocks)
    )


def test_decided_cards_mention_the_deciders() -> None:
    """Approved, posted and rejected cards mention the approver, and link the post."""
    for status in (PostStatus.APPROVED, PostStatus.POSTED, PostStatus.REJECTED):
        text, blocks = approval_card(hostile_post(status=status), dry_run=False)
        assert f"<@{APPROVER}>" in text, status
        assert any(f"<@{APPROVER}>" in t for t in mrkdwn_texts(blocks)), status


def test_direct_messages_escape_briefs_and_reasons() -> None:
    """The generation-failed DM escapes the brief; the undeliverable-card DM escapes the
    reason and links the approval channel."""
    text, blocks = generation_failed_notice(hostile_post(status=PostStatus.FAILED_GENERATION))
    assert unescaped(message_texts({"text": text, "blocks": blocks}), **OURS) == {}
    assert "&lt;!channel&gt;" in json.dumps(blocks)
    notice = card_undeliverable(CHANNEL, HOSTILE)
    assert unescaped([notice], **OURS) == {}
    assert notice.startswith(f"I couldn't post your draft to the approval channel <#{CHANNEL}> (")


def test_status_and_app_home_escape_everything_outside() -> None:
    """`/socialpost status` and App Home show hostile drafts, reasons and job errors as text."""
    pending = [hostile_post(id=f"p{n}") for n in range(3)]
    failed = [
        hostile_post(id=f"f{n}", status=status)
        for n, status in enumerate(
            [PostStatus.FAILED_POST, PostStatus.FAILED_GENERATION, PostStatus.FAILED_APPROVAL_SEND]
        )
    ]
    text, blocks = status_blocks(pending, failed)
    assert unescaped(message_texts({"text": text, "blocks": blocks}), **OURS) == {}
    dead = Job(
        id=7,
        kind=HOSTILE,
        post_id=None,
        status=JobStatus.DEAD,
        attempts=3,
        last_error=HOSTILE,
        next_attempt_at=0,
        queue="slack",
        payload={},
        created_at="2026-01-01T00:00:00Z",
        updated_at="2026-01-01T00:00:00Z",
    )
    home = home_view(
        HomeData(
            viewer=APPROVER,
            pending=as_approver(pending),
            failed=as_approver(failed),
            dead_jobs=[DeadJob(dead, label=HOSTILE, may_retry=True)],
            posted=[hostile_post(id="d", status=PostStatus.POSTED)],
            pending_total=3,
            failed_total=3,
            dead_jobs_total=1,
        )
    )
    assert unescaped(list(mrkdwn_texts(home["blocks"])), **OURS) == {}
    assert f"<{URL}|View on X>" in json.dumps(home["blocks"])


def test_long_draft_is_shown_whole_across_sections() -> None:
    """A draft longer than a section holds continues in the next section: nothing is cut."""
    message = ("A sentence of a long LinkedIn post. " * 100).strip()
    _, blocks = approval_card(hostile_post(platform="linkedin", message=message), dry_run=False)
    sections = [b for b in blocks if str(b.get("block_id", "")).startswith("draft")]
    assert len(sections) == 2 and all(len(s["text"]["text"]) <= 3000 for s in sections)
    assert " ".join(s["text"]["text"] for s in sections) == message


def test_thread_too_long_for_one_message_says_how_many_posts_are_not_shown() -> None:
    """A thread with more posts than a message's 50 blocks hold shows what fits and says how
    many posts are left out."""
    message = "\n---\n".join(f"Post number {n} of a very long thread." for n in range(60))
    _, blocks = approval_card(hostile_post(thread=True, message=message), dry_run=False)
    assert len(blocks) <= 50
    shown = [b for b in blocks if str(b.get("block_id", "")).startswith("draft")]
    note = next(t for t in mrkdwn_texts(blocks) if "more posts of this thread" in t)
    assert note.startswith(f":scissors: {60 - len(shown)} more posts")


def test_status_list_that_does_not_fit_says_how_many_more_and_where() -> None:
    """A status list longer than a section ends, after whole lines, with how many more posts
    there are (counting those not fetched) and that App Home has them."""
    failed = [
        hostile_post(id=f"f{n}", status=PostStatus.FAILED_POST, failure_reason="&<>" * 300)
        for n in range(10)
    ]
    _, blocks = status_blocks([], failed, pending_total=0, failed_total=25)
    (section,) = blocks
    text = section["text"]["text"]
    assert len(text) <= 3000
    lines = text.split("\n")
    assert lines[0] == "*Failed (25)*"
    listed = [line for line in lines if line.startswith("• ")]
    assert lines[-1] == (
        f"_…and {25 - len(listed)} more: see the whole queue in socialpost's App Home._"
    )
    assert unescaped([text], **OURS) == {}


def test_app_home_says_how_many_it_leaves_out() -> None:
    """App Home counts every pending and failed post, and says where those not listed are."""
    pending = [hostile_post(id=f"p{n}") for n in range(10)]
    home = home_view(
        HomeData(
            viewer=APPROVER,
            pending=as_approver(pending),
            failed=[],
            dead_jobs=[],
            posted=[],
            pending_total=14,
            failed_total=0,
            dead_jobs_total=0,
        )
    )
    dumped = json.dumps(home["blocks"])
    assert "Pending approval (14)" in dumped
    assert (
        f"Showing the newest 10 of 14 pending posts: the others are on their cards in <#{CHANNEL}>."
        in dumped
    )


def x_thread(posts: int, words: int = 30) -> str:
    """An X thread draft of `posts` explicit parts, each of `words` words."""
    return "\n---\n".join(" ".join(f"w{n}x{k}" for k in range(words)) for n in range(posts))


def test_long_thread_gets_one_box_per_post_and_saves_unchanged() -> None:
    """A thread longer than one box is edited post by post; saved unchanged, it publishes the
    same posts."""
    message = x_thread(20)
    assert len(message) > 3000
    post = hostile_post(thread=True, message=message)
    view = edit_modal(post, channel=CHANNEL, message_ts="1.2")
    assert [b["label"]["text"] for b in boxes(view)] == [f"Post {n} of 20" for n in range(1, 21)]
    assert boxes(view)[0]["block_id"] == ids.DRAFT_TEXT
    saved = edited_text(view_submitted_unchanged(view))
    assert split_thread(saved) == split_thread(message)


threads = st.lists(
    st.text(alphabet=st.sampled_from("abc Z1.!?\n日😀"), min_size=1, max_size=700), max_size=12
).map("\n---\n".join)


@settings(max_examples=60, deadline=None)
@given(threads)
def test_a_thread_saved_unchanged_publishes_the_same_posts(message: str) -> None:
    """Whatever the thread, saving the edit modal unchanged gives the splitter the same posts,
    and every box holds what Slack allows."""
    view = edit_modal(hostile_post(thread=True, message=message), channel=None, message_ts=None)
    assert all(len(b["element"].get("initial_value", "")) <= 3000 for b in boxes(view))
    assert len(view["blocks"]) <= 100 and len(view["private_metadata"]) <= 3000
    assert split_thread(edited_text(view_submitted_unchanged(view))) == split_thread(message)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab \n\n\t日😀<&"), max_size=9000))
def test_a_long_draft_saved_unchanged_is_the_same_text(message: str) -> None:
    """A single post of any length comes back from an unchanged edit exactly as it was."""
    view = edit_modal(
        hostile_post(platform="linkedin", message=message), channel=None, message_ts=None
    )
    assert all(len(b["element"].get("initial_value", "")) <= 3000 for b in boxes(view))
    assert edited_text(view_submitted_unchanged(view)) == message.strip()


def test_edited_boxes_are_joined_back() -> None:
    """Changes typed in several boxes are all kept, joined the way the boxes were cut."""
    message = ("Paragraph one. " * 150).strip() + "\n\n" + ("Paragraph two. " * 100).strip()
    view = edit_modal(
        hostile_post(platform="linkedin", message=message), channel=None, message_ts=None
    )
    submitted = view_submitted_unchanged(view)
    values = submitted["state"]["values"]
    values[ids.DRAFT_TEXT][ids.DRAFT_TEXT]["value"] = "New start."
    second = boxes(view)[1]["block_id"]
    values[second][second]["value"] = "New end."
    assert edited_text(submitted) == "New start.\n\nNew end."


def test_thread_with_more_posts_than_boxes_is_edited_as_one_text() -> None:
    """A thread of more posts than a modal takes boxes is edited as its text, box after box,
    and comes back unchanged."""
    message = "\n---\n".join(f"Post {n} of a thread far too long." for n in range(150))
    view = edit_modal(hostile_post(thread=True, message=message), channel=None, message_ts=None)
    assert 1 < len(boxes(view)) < 100
    assert "goes on from box to box" in boxes(view)[0]["hint"]["text"]
    assert edited_text(view_submitted_unchanged(view)) == message


def test_draft_too_long_for_the_modal_says_so() -> None:
    """A draft longer than 100 boxes hold opens a modal that says so, with nothing to save."""
    view = edit_modal(
        hostile_post(platform="linkedin", message="word " * 70_000), channel=None, message_ts=None
    )
    assert "submit" not in view and boxes(view) == []
    assert "more than Slack's edit form can hold" in json.dumps(view["blocks"])


def test_prefill_over_the_brief_limit_is_shown_whole_with_a_notice() -> None:
    """`/socialpost <2500 characters>` opens the form with all of them and says the brief must
    be shortened."""
    brief = "b" * 2500
    view = new_post_modal(platforms=["x"], brief=brief)
    element = next(b for b in view["blocks"] if b.get("block_id") == ids.BRIEF)["element"]
    assert element["initial_value"] == brief and element["max_length"] == 2500
    notice = next(mrkdwn_texts(view["blocks"]))
    assert notice.startswith(
        ":warning: Your text is 2,500 characters; a brief can be at most 2,000."
    )


def test_prefill_longer_than_the_form_comes_back_whole() -> None:
    """Text longer than the form can show is answered privately, all of it handed back."""
    text = ("A long brief that keeps going. " * 200).strip()
    notice, blocks = prefill_too_long(text)
    assert "6,199 characters; a brief can be at most 2,000" in notice
    sections = [b["text"]["text"] for b in blocks if b["text"]["type"] == "plain_text"]
    assert " ".join(sections) == text and all(len(s) <= 3000 for s in sections)
