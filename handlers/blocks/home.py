"""App Home: the queue (pending approvals, failures, recent posts) for one person."""

from __future__ import annotations

from typing import Any

from handlers import ids
from handlers.blocks.card import SECTION_TEXT_MAX, button, context, mrkdwn
from handlers.blocks.markup import Channel, Link, Mrkdwn, User, clip, lines_within, md
from handlers.blocks.status import REASON_PREVIEW, post_line
from services.home import HomeData
from services.models import Job, Post, PostStatus
from services.platforms import spec_for

Block = dict[str, Any]

HOME_BLOCKS_MAX = 100

JOB_KINDS = {
    "sync_card": "Approval card update",
    "notify_user": "Direct message",
    "publish": "Publish",
}


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def _pending(post: Post, data: HomeData) -> list[Block]:
    blocks = [{**mrkdwn(post_line(post)), "block_id": f"pending_{post.id}"}]
    value = ids.versioned(post.id, post.version)  # the version this tab shows
    if data.is_approver:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"pending_actions_{post.id}",
                "elements": [
                    button("Approve & post", ids.APPROVE, value, "primary"),
                    button("Reject", ids.REJECT, value, "danger"),
                ],
            }
        )
    return blocks


def _failed(post: Post, data: HomeData) -> list[Block]:
    may_retry = data.is_approver or (
        post.requester == data.viewer and post.status != PostStatus.FAILED_POST
    )
    blocks = [{**mrkdwn(post_line(post)), "block_id": f"failed_{post.id}"}]
    elements = []
    if may_retry:
        elements.append(button("Retry", ids.RETRY, post.id, "primary"))
    if data.is_approver:
        elements.append(button("Discard", ids.DISCARD, post.id))
    if elements:
        blocks.append(
            {"type": "actions", "block_id": f"failed_actions_{post.id}", "elements": elements}
        )
    return blocks


def _dead_job(job: Job, data: HomeData) -> Block:
    kind = JOB_KINDS.get(job.kind, job.kind)
    error = clip(job.last_error or "unknown error", REASON_PREVIEW)
    text = md("*{kind}* failed for good: {error}", kind=kind, error=error)
    block: Block = {**mrkdwn(text), "block_id": f"job_{job.id}"}
    if data.is_approver:
        block["accessory"] = button("Retry", ids.RETRY_JOB, str(job.id))
    return block


def _posted_line(post: Post) -> Mrkdwn:
    name = spec_for(post.platform).name
    link = Link(post.external_url, f"View on {name}") if post.external_url else "(dry run)"
    return md(
        "• *{name}* by {approver} · {link}", name=name, approver=User(post.approved_by), link=link
    )


def _on_their_cards(posts: list[Post], total: int, what: str) -> Block:
    """Where the posts a list leaves out are: on their cards in the approval channel."""
    channel = Channel(next((post.channel for post in posts if post.channel), None))
    return context(
        md(
            "Showing the newest {shown} of {total} {what}: the others are on their cards in "
            "{channel}.",
            shown=len(posts),
            total=total,
            what=what,
            channel=channel,
        )
    )


def _more_posted(count: int) -> Mrkdwn:
    return md("…and {count} more recent posts not shown.", count=count)


def _within_budget(blocks: list[Block]) -> list[Block]:
    """At most Slack's 100 blocks, saying so when some of the queue is left out."""
    if len(blocks) <= HOME_BLOCKS_MAX:
        return blocks
    hidden = len(blocks) - HOME_BLOCKS_MAX + 1
    note = md("{count} more entries are not shown: App Home holds 100 blocks.", count=hidden)
    return [*blocks[: HOME_BLOCKS_MAX - 1], context(note)]


def home_view(data: HomeData) -> dict[str, Any]:
    """The App Home tab."""
    blocks: list[Block] = [
        _header("socialpost"),
        context(md("Type `/socialpost` in any channel to draft a post. Updated as things change.")),
        _header(f"Pending approval ({data.pending_total})"),
    ]
    for post in data.pending:
        blocks += _pending(post, data)
    if data.pending_total > len(data.pending):
        blocks.append(_on_their_cards(data.pending, data.pending_total, "pending posts"))
    elif not data.pending:
        blocks.append(context(md("Nothing waits for approval.")))
    blocks.append(_header(f"Failed ({data.failed_total + data.dead_jobs_total})"))
    for post in data.failed:
        blocks += _failed(post, data)
    if data.failed_total > len(data.failed):
        blocks.append(_on_their_cards(data.failed, data.failed_total, "failed posts"))
    blocks += [_dead_job(job, data) for job in data.dead_jobs]
    if data.dead_jobs_total > len(data.dead_jobs):
        hidden = data.dead_jobs_total - len(data.dead_jobs)
        blocks.append(
            context(
                md(
                    "…and {count} more failed jobs not shown: they appear here as these are "
                    "retried.",
                    count=hidden,
                )
            )
        )
    if not data.failed_total and not data.dead_jobs_total:
        blocks.append(context(md("Nothing has failed.")))
    blocks.append(_header("Recently posted"))
    if data.posted:
        lines = [_posted_line(post) for post in data.posted]
        blocks.append(mrkdwn(lines_within(md(""), lines, SECTION_TEXT_MAX, _more_posted)))
    else:
        blocks.append(context(md("Nothing posted yet.")))
    return {"type": "home", "blocks": _within_budget(blocks)}
