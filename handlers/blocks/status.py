"""`/socialpost status`: pending and failed posts, for the person who asked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from handlers.blocks.card import SECTION_TEXT_MAX, mrkdwn
from handlers.blocks.markup import Channel, Mrkdwn, User, clip, escape, join, lines_within, md
from handlers.blocks.times import slack_date
from services.models import Post, PostStatus
from services.platforms import spec_for

PREVIEW = 80
REASON_PREVIEW = 200

_FAILURES = {
    PostStatus.FAILED_POST: "failed to post",
    PostStatus.FAILED_GENERATION: "no draft: generation failed",
    PostStatus.FAILED_APPROVAL_SEND: "approval card not delivered",
    PostStatus.MISSED: "missed its scheduled time: not published",
}


def preview(text: str | None, length: int = PREVIEW) -> Mrkdwn:
    """The start of a draft, on one line, safe in mrkdwn (cut before escaping, so never inside
    an entity; the ellipsis says it goes on)."""
    flat = " ".join((text or "").split())
    return escape(flat if len(flat) <= length else flat[: length - 1] + "…")


def post_line(post: Post) -> Mrkdwn:
    """One post in a list: platform, requester, what happened, the start of the draft."""
    name = spec_for(post.platform).name
    parts = [
        md("*{name}*", name=name),
        md("from {who}", who=User(post.requester)) if post.requester else md("from a teammate"),
    ]
    if post.status in _FAILURES:
        reason = md("{what}", what=_FAILURES[post.status])
        if post.failure_reason and post.status == PostStatus.FAILED_POST:
            why = clip(post.failure_reason, REASON_PREVIEW)
            reason = md("{reason}: {why}", reason=reason, why=why)
        parts.append(reason)
    if post.message:
        parts.append(md("“{start}”", start=preview(post.message)))
    if post.channel:
        parts.append(md("in {channel}", channel=Channel(post.channel)))
    return join(" · ", parts)


def scheduled_line(post: Post) -> Mrkdwn:
    """A scheduled post in a list: when it goes out, then the post as any list shows it."""
    when = slack_date(post.scheduled_for) if post.scheduled_for else md("(no time)")
    return md("{when} · {line}", when=when, line=post_line(post))


def more_in_app_home(count: int) -> Mrkdwn:
    """The closing line of a list cut short."""
    return md("_…and {count} more: see the whole queue in socialpost's App Home._", count=count)


def _section(
    title: str,
    posts: Sequence[Post],
    total: int,
    line: Callable[[Post], Mrkdwn] = post_line,
) -> list[dict[str, Any]]:
    """A titled list of `posts`, of `total` in all; what doesn't fit says how many more."""
    if not total:
        return []
    lines = [md("• {line}", line=line(post)) for post in posts]
    head = md("*{title} ({total})*", title=title, total=total)
    unlisted = max(0, total - len(posts))
    text = lines_within(head, lines, SECTION_TEXT_MAX, more_in_app_home, unlisted=unlisted)
    return [mrkdwn(text)]


def status_blocks(
    pending: Sequence[Post],
    failed: Sequence[Post],
    *,
    pending_total: int | None = None,
    failed_total: int | None = None,
    scheduled: Sequence[Post] = (),
    scheduled_total: int | None = None,
) -> tuple[Mrkdwn, list[Any]]:
    """The status answer's text and blocks: the newest `pending` and `failed` posts, of
    `pending_total` and `failed_total` in all (default: the lists are all there is)."""
    pending_count = len(pending) if pending_total is None else pending_total
    failed_count = len(failed) if failed_total is None else failed_total
    text = md(
        "{pending} pending approval, {failed} failed", pending=pending_count, failed=failed_count
    )
    scheduled_count = len(scheduled) if scheduled_total is None else scheduled_total
    blocks = _section("Pending approval", pending, pending_count) + _section(
        "Failed", failed, failed_count
    )
    blocks += _section("Scheduled", scheduled, scheduled_count, scheduled_line)
    if scheduled_count:
        text = md("{text}, {count} scheduled", text=text, count=scheduled_count)
    if not blocks:
        blocks = [mrkdwn(md("Nothing is pending or failed. :tada:"))]
    return text, blocks
