"""App Home: the queue (pending approvals, failures, recent posts) for one person."""

from __future__ import annotations

from typing import Any

from handlers import ids
from handlers.blocks.card import SECTION_TEXT_MAX, approvals_context, button, context, mrkdwn
from handlers.blocks.markup import Channel, Link, Mrkdwn, User, clip, lines_within, md
from handlers.blocks.status import REASON_PREVIEW, post_line, scheduled_line
from services.lifecycle import Action
from services.models import Post
from services.overview import DeadJob, HomeData, Listed
from services.platforms import spec_for

Block = dict[str, Any]

HOME_BLOCKS_MAX = 100


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def _actions(block_id: str, elements: list[Block]) -> list[Block]:
    return [{"type": "actions", "block_id": block_id, "elements": elements}] if elements else []


def _pending(listed: Listed) -> list[Block]:
    post = listed.post
    value = ids.versioned(post.id, post.version)  # the version this tab shows
    elements = []
    if Action.APPROVE in listed.actions:
        elements.append(button("Approve & post", ids.APPROVE, value, "primary"))
    if Action.REJECT in listed.actions:
        elements.append(button("Reject", ids.REJECT, value, "danger"))
    line = {**mrkdwn(post_line(post)), "block_id": f"pending_{post.id}"}
    said = approvals_context(listed.approvals) if listed.approvals else []
    return [line, *said, *_actions(f"pending_actions_{post.id}", elements)]


def _failed(listed: Listed) -> list[Block]:
    post = listed.post
    elements = []
    if Action.RETRY in listed.actions:
        elements.append(button("Retry", ids.RETRY, post.id, "primary"))
    if Action.DISCARD in listed.actions:
        elements.append(button("Discard", ids.DISCARD, post.id))
    line = {**mrkdwn(post_line(post)), "block_id": f"failed_{post.id}"}
    return [line, *_actions(f"failed_actions_{post.id}", elements)]


def _scheduled(listed: Listed) -> list[Block]:
    post = listed.post
    elements = []
    if Action.POST_NOW in listed.actions:
        elements.append(button("Post now", ids.POST_NOW, post.id, "primary"))
    if Action.UNSCHEDULE in listed.actions:
        elements.append(button("Unschedule", ids.UNSCHEDULE, post.id))
    line = {**mrkdwn(scheduled_line(post)), "block_id": f"scheduled_{post.id}"}
    return [line, *_actions(f"scheduled_actions_{post.id}", elements)]


def _dead_job(dead: DeadJob) -> Block:
    job = dead.job
    error = clip(job.last_error or "unknown error", REASON_PREVIEW)
    text = md("*{kind}* failed for good: {error}", kind=dead.label, error=error)
    block: Block = {**mrkdwn(text), "block_id": f"job_{job.id}"}
    if dead.may_retry:
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
    pending = [listed.post for listed in data.pending]
    for listed in data.pending:
        blocks += _pending(listed)
    if data.pending_total > len(pending):
        blocks.append(_on_their_cards(pending, data.pending_total, "pending posts"))
    elif not data.pending:
        blocks.append(context(md("Nothing waits for approval.")))
    if data.scheduled_total:
        blocks.append(_header(f"Scheduled ({data.scheduled_total})"))
        for listed in data.scheduled:
            blocks += _scheduled(listed)
        if data.scheduled_total > len(data.scheduled):
            hidden = data.scheduled_total - len(data.scheduled)
            blocks.append(context(md("…and {count} more scheduled later.", count=hidden)))
    blocks.append(_header(f"Failed ({data.failed_total + data.dead_jobs_total})"))
    failed = [listed.post for listed in data.failed]
    for listed in data.failed:
        blocks += _failed(listed)
    if data.failed_total > len(failed):
        blocks.append(_on_their_cards(failed, data.failed_total, "failed posts"))
    blocks += [_dead_job(dead) for dead in data.dead_jobs]
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
