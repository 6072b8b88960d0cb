"""`/socialpost status`: pending and failed posts, for the person who asked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers.blocks.card import mrkdwn
from handlers.blocks.messages import escape
from services.models import Post, PostStatus
from services.platforms import rules_for

PREVIEW = 80

_FAILURES = {
    PostStatus.FAILED_POST: "failed to post",
    PostStatus.FAILED_GENERATION: "no draft: generation failed",
    PostStatus.FAILED_APPROVAL_SEND: "approval card not delivered",
}


def preview(text: str | None, length: int = PREVIEW) -> str:
    """The start of a draft, on one line, safe in mrkdwn."""
    flat = " ".join((text or "").split())
    return escape(flat if len(flat) <= length else flat[: length - 1] + "…")


def post_line(post: Post) -> str:
    """One post in a list: platform, requester, what happened, the start of the draft."""
    name = rules_for(post.platform).name
    parts = [f"*{name}*", f"from <@{post.requester}>" if post.requester else "from a teammate"]
    if post.status in _FAILURES:
        reason = _FAILURES[post.status]
        if post.failure_reason and post.status == PostStatus.FAILED_POST:
            reason += f": {escape(post.failure_reason)}"
        parts.append(reason)
    if post.message:
        parts.append(f"“{preview(post.message)}”")
    if post.channel:
        parts.append(f"in <#{post.channel}>")
    return " · ".join(parts)


def _section(title: str, posts: Sequence[Post]) -> list[dict[str, Any]]:
    if not posts:
        return []
    lines = "\n".join(f"• {post_line(post)}" for post in posts)
    return [mrkdwn(f"*{title} ({len(posts)})*\n{lines}")]


def status_blocks(pending: Sequence[Post], failed: Sequence[Post]) -> tuple[str, list[Any]]:
    """The status answer's text and blocks."""
    text = f"{len(pending)} pending approval, {len(failed)} failed"
    blocks = _section("Pending approval", pending) + _section("Failed", failed)
    if not blocks:
        blocks = [mrkdwn("Nothing is pending or failed. :tada:")]
    return text, blocks
