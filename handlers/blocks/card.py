"""The approval card: one message per post, updated in place through the post's whole life."""

from __future__ import annotations

from typing import Any

from handlers import ids
from handlers.blocks.messages import GENERATION_FAILED, escape
from services.models import Post, PostStatus
from services.platforms import Measurement, rules_for
from services.threads import MAX_PARTS, measure_draft, split_thread

Block = dict[str, Any]

SECTION_TEXT_MAX = 3000
BRIEF_SHOWN = 600


def _article(name: str) -> str:
    return "an" if name[:1].upper() in "AEIOUX" else "a"


def mrkdwn(text: str) -> Block:
    """A section of mrkdwn text."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_TEXT_MAX]}}


def context(*parts: str) -> Block:
    """A context line of mrkdwn parts."""
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": part[:SECTION_TEXT_MAX]} for part in parts[:10]],
    }


def button(
    text: str, action_id: str, value: str, style: str | None = None, *, url: str | None = None
) -> Block:
    """A button whose value is a post id."""
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    if url:
        element["url"] = url
    return element


def draft_section(text: str) -> Block:
    """The draft exactly as it will be published (plain text: no mrkdwn formatting applies)."""
    if len(text) > SECTION_TEXT_MAX:
        hidden = len(text) - (SECTION_TEXT_MAX - 60)
        text = f"{text[: SECTION_TEXT_MAX - 60]}… [{hidden} more characters not shown]"
    return {
        "type": "section",
        "block_id": "draft",
        "text": {"type": "plain_text", "text": text or " ", "emoji": False},
    }


def _brief(post: Post) -> Block:
    brief = post.brief or ""
    if len(brief) > BRIEF_SHOWN:
        brief = brief[:BRIEF_SHOWN] + "…"
    return context(f"*Brief:* {escape(brief)}")


def _measure_line(post: Post, measurement: Measurement) -> str:
    unit = "weighted characters" if post.platform == "x" else "characters"
    if not measurement.within_limit:
        return f":warning: {'; '.join(measurement.problems)}"
    if post.thread and measurement.parts > 1:
        return f"Thread of {measurement.parts} posts, each within {measurement.limit} {unit}"
    return f"{measurement.length}/{measurement.limit} {unit}"


def draft_sections(post: Post) -> list[Block]:
    """The draft as it will be published: one section, or one per part of a thread."""
    if not post.thread:
        return [draft_section(post.message or "")]
    parts = split_thread(post.message or "")
    sections = [draft_section(part) for part in parts[:MAX_PARTS]]
    for index, section in enumerate(sections):
        section["block_id"] = "draft" if index == 0 else f"draft_{index + 1}"
    return sections


def _pending_buttons(post: Post, measurement: Measurement) -> list[Block]:
    elements = [
        button("Approve & post", ids.APPROVE, post.id, "primary"),
        button("Edit", ids.EDIT, post.id),
        button("Regenerate", ids.REGENERATE, post.id),
        button("Suggest changes…", ids.SUGGEST_CHANGES, post.id),
        button("Reject", ids.REJECT, post.id, "danger"),
    ]
    if post.platform == "x" and not post.thread and not measurement.within_limit:
        elements.insert(1, button("Post as a thread", ids.MAKE_THREAD, post.id))
    return elements


def _model_line(post: Post) -> str:
    if not post.llm_model:
        return ""
    answered = post.llm_model
    if post.llm_provider and not answered.startswith(f"{post.llm_provider}/"):
        answered = f"{post.llm_provider}/{answered}"
    configured = post.llm_deployment or answered
    if "/" not in configured and post.llm_provider:
        configured = f"{post.llm_provider}/{configured}"
    line = f"Written by {configured}"
    if answered != configured:
        # Providers answer with the model an alias resolved to (…-latest -> a dated one).
        line += f" (answered as {post.llm_model})"
    if post.llm_fallback:
        line += " (fallback: the first choice was unavailable)"
    return line


def _version_line(post: Post) -> str:
    line = f"Version {post.version}"
    if post.edited_by:
        line += f", edited by <@{post.edited_by}>"
    return line


def card_text(post: Post) -> str:
    """The message's plain `text`: what notifications and screen readers show."""
    name = rules_for(post.platform).name
    who = f"<@{post.requester}>" if post.requester else "a teammate"
    match post.status:
        case PostStatus.GENERATING:
            return f"Drafting {_article(name)} {name} post for {who}..."
        case PostStatus.PENDING | PostStatus.FAILED_APPROVAL_SEND:
            return f"{name} draft from {who} awaiting approval: {post.message or ''}"
        case PostStatus.APPROVED:
            return f"Publishing... {name} post approved by <@{post.approved_by}>"
        case PostStatus.POSTED:
            return _posted_line(post, name)
        case PostStatus.REJECTED:
            return f"Rejected by <@{post.rejected_by}>: {name} post from {who}"
        case PostStatus.FAILED_POST:
            return f"Failed to post to {name}: {post.failure_reason or 'unknown error'}"
        case PostStatus.FAILED_GENERATION:
            return f"{GENERATION_FAILED} ({name} post for {who})"


def _posted_line(post: Post, name: str) -> str:
    if post.dry_run:
        return f"Posted to {name} by <@{post.approved_by}> (dry run: nothing was sent to {name})"
    link = f": {post.external_url}" if post.external_url else ""
    return f"Posted to {name} by <@{post.approved_by}>{link}"


def approval_card(post: Post, *, dry_run: bool) -> tuple[str, list[Block]]:
    """The card's text and blocks for the post's current status.

    `dry_run` says whether approving will call the platform (shown before the decision).
    """
    name = rules_for(post.platform).name
    who = f"<@{post.requester}>" if post.requester else "a teammate"
    text = card_text(post)
    blocks: list[Block] = []
    if post.status == PostStatus.GENERATING:
        blocks += [mrkdwn(f":hourglass_flowing_sand: {escape(text)}"), _brief(post)]
        return text, blocks
    if post.status == PostStatus.FAILED_GENERATION:
        blocks += [
            mrkdwn(f":warning: *{GENERATION_FAILED}* ({name} post for {who})"),
            _brief(post),
            {
                "type": "actions",
                "block_id": "actions",
                "elements": [
                    button("Retry", ids.RETRY, post.id, "primary"),
                    button("Discard", ids.DISCARD, post.id),
                ],
            },
        ]
        return text, blocks

    kind = "thread" if post.thread else "draft"
    blocks.append(mrkdwn(f"*{name} {kind}* from {who}"))
    blocks += draft_sections(post)
    measurement = measure_draft(post.platform, post.message or "", thread=post.thread)
    details = [_measure_line(post, measurement), _version_line(post)]
    if model := _model_line(post):
        details.append(model)
    blocks.append(context(*details))
    blocks.append(_brief(post))

    match post.status:
        case PostStatus.PENDING | PostStatus.FAILED_APPROVAL_SEND:
            if post.failure_reason:
                blocks.append(
                    context(f":warning: {GENERATION_FAILED}. This is the previous version.")
                )
            if dry_run:
                blocks.append(
                    context(f":test_tube: This is a dry run: approving will not post to {name}.")
                )
            blocks.append(
                {
                    "type": "actions",
                    "block_id": "actions",
                    "elements": _pending_buttons(post, measurement),
                }
            )
        case PostStatus.APPROVED:
            blocks.append(mrkdwn(f":rocket: *Publishing...* (approved by <@{post.approved_by}>)"))
        case PostStatus.POSTED:
            blocks.append(mrkdwn(f":white_check_mark: {_posted_line(post, name)}"))
        case PostStatus.REJECTED:
            blocks.append(mrkdwn(f":no_entry_sign: Rejected by <@{post.rejected_by}>"))
        case PostStatus.FAILED_POST:
            reason = escape(post.failure_reason or "unknown error")
            blocks += [
                mrkdwn(f":x: *Failed to post to {name}:* {reason}"),
                {
                    "type": "actions",
                    "block_id": "actions",
                    "elements": [
                        button("Retry", ids.RETRY, post.id, "primary"),
                        button("Discard", ids.DISCARD, post.id, "danger"),
                    ],
                },
            ]
    return text, blocks


def generation_failed_notice(post: Post | None) -> tuple[str, list[Block]]:
    """The direct message to a requester whose draft could not be written, with Retry."""
    text = GENERATION_FAILED
    if post is None:
        return text, [mrkdwn(text)]
    name = rules_for(post.platform).name
    blocks = [
        mrkdwn(f":warning: {GENERATION_FAILED} (your {name} post)."),
        _brief(post),
        context("Your brief is saved: Retry drafts it again."),
        {
            "type": "actions",
            "block_id": "actions",
            "elements": [button("Retry", ids.RETRY, post.id, "primary")],
        },
    ]
    return text, blocks
