"""Block Kit builders: pure functions, tested without any Slack."""

from __future__ import annotations

import json
from typing import Any

from handlers import ids
from handlers.blocks.card import approval_card
from handlers.blocks.markup import escape
from handlers.blocks.messages import rate_limited
from handlers.blocks.modal import new_post_modal, origin_channel, selected_values, text_value
from services.models import Post, PostStatus


def post(**changes: Any) -> Post:
    """A post with sensible values; `changes` override them."""
    values: dict[str, Any] = {
        "id": "post-1",
        "status": PostStatus.PENDING,
        "platform": "x",
        "message": "Hello *world* <!channel>",
        "requester": "U1",
        "brief": "Say hello <!here> & more",
        "llm_provider": "openai",
        "llm_model": "gpt-4o-mini",
        "version": 1,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    values.update(changes)
    return Post.model_validate(values)


def buttons(blocks: list[dict[str, Any]]) -> dict[str, str]:
    """action_id -> value of every button."""
    return {
        element["action_id"]: element["value"]
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    }


def test_pending_card_shows_draft_verbatim_and_decision_buttons() -> None:
    """The draft is plain text (no mrkdwn), the brief is escaped, buttons carry the post id
    and the version the card shows."""
    text, blocks = approval_card(post(), dry_run=False)
    draft = next(b for b in blocks if b.get("block_id") == "draft")
    assert draft["text"] == {
        "type": "plain_text",
        "text": "Hello *world* <!channel>",
        "emoji": False,
    }
    dumped = json.dumps(blocks)
    assert "Say hello &lt;!here&gt; &amp; more" in dumped and "<!here>" not in dumped
    assert "24/280 weighted characters" in dumped
    assert "openai/gpt-4o-mini" in dumped
    assert buttons(blocks) == {
        ids.APPROVE: "post-1:v1",
        ids.SCHEDULE: "post-1:v1",
        ids.EDIT: "post-1:v1",
        ids.REGENERATE: "post-1:v1",
        ids.SUGGEST_CHANGES: "post-1:v1",
        ids.REJECT: "post-1:v1",
    }
    assert "awaiting approval" in text


def test_fallback_and_dry_run_are_visible() -> None:
    """A fallback model and a dry-run platform are both said on the card."""
    _, blocks = approval_card(post(llm_fallback=True), dry_run=True)
    dumped = json.dumps(blocks)
    assert "fallback" in dumped and "dry run" in dumped


def test_decided_cards_have_no_decision_buttons() -> None:
    """Publishing, posted and rejected cards show the outcome and no buttons."""
    cases = {
        PostStatus.APPROVED: "Publishing...",
        PostStatus.POSTED: "Posted to X by <@U2>: https://x.com/i/web/status/42",
        PostStatus.REJECTED: "Rejected by <@U3>",
    }
    for status, expected in cases.items():
        text, blocks = approval_card(
            post(
                status=status,
                approved_by="U2",
                rejected_by="U3",
                external_id="42",
                external_url="https://x.com/i/web/status/42",
            ),
            dry_run=False,
        )
        assert expected in json.dumps(blocks) or expected in text, status
        assert buttons(blocks) == {}, status


def test_failed_cards_offer_retry_and_discard() -> None:
    """A failed publish states the reason; failed generation says the SPEC sentence."""
    _, blocks = approval_card(
        post(status=PostStatus.FAILED_POST, failure_reason="rate limit: X answered 429"),
        dry_run=False,
    )
    assert "rate limit: X answered 429" in json.dumps(blocks)
    assert set(buttons(blocks)) == {ids.RETRY, ids.DISCARD}
    text, blocks = approval_card(
        post(status=PostStatus.FAILED_GENERATION, message=None), dry_run=False
    )
    assert "Unable to generate content right now. Please try again" in text
    assert set(buttons(blocks)) == {ids.RETRY, ids.DISCARD}


def test_generating_card_is_a_placeholder() -> None:
    """While drafting: "Drafting an X post for @requester...", no buttons."""
    text, blocks = approval_card(post(status=PostStatus.GENERATING, message=None), dry_run=False)
    assert text == "Drafting an X post for <@U1>..."
    assert buttons(blocks) == {}


def test_long_draft_fits_slack_section_limit() -> None:
    """A draft longer than a section allows goes on in a second section: all of it is shown,
    each section within Slack's 3000 characters."""
    _, blocks = approval_card(post(platform="linkedin", message="a" * 3500), dry_run=False)
    sections = [b for b in blocks if str(b.get("block_id", "")).startswith("draft")]
    assert [len(s["text"]["text"]) for s in sections] == [3000, 500]


def test_modal_round_trip() -> None:
    """The modal prefills the brief, offers the platforms, remembers the channel; submitted
    values are read back from checkboxes, selects and text inputs."""
    view = new_post_modal(
        platforms=["x", "linkedin"], dry_run_platforms=["linkedin"], brief="Hi", origin_channel="C9"
    )
    assert view["callback_id"] == ids.NEW_POST_VIEW and len(view["title"]["text"]) <= 24
    by_id = {block["block_id"]: block for block in view["blocks"]}
    assert by_id[ids.BRIEF]["element"]["initial_value"] == "Hi"
    assert [o["value"] for o in by_id[ids.PLATFORM]["element"]["options"]] == ["x", "linkedin"]
    assert origin_channel(view) == "C9"
    state = {
        ids.BRIEF: {ids.BRIEF: {"type": "plain_text_input", "value": "text"}},
        ids.PLATFORM: {ids.PLATFORM: {"type": "checkboxes", "selected_options": [{"value": "x"}]}},
        ids.TONE: {ids.TONE: {"type": "static_select", "selected_option": {"value": "bold"}}},
    }
    assert text_value(state, ids.BRIEF) == "text"
    assert selected_values(state, ids.PLATFORM) == ["x"]
    assert selected_values(state, ids.TONE) == ["bold"]
    assert text_value(state, ids.IMAGE_URL) == ""


def test_messages() -> None:
    """Rate-limit wording rounds the wait up; mrkdwn escaping defuses mentions."""
    assert rate_limited(11.2, "user") == "You're drafting too fast. Try again in 12 seconds."
    assert escape("<@U1> & <!channel>") == "&lt;@U1&gt; &amp; &lt;!channel&gt;"
