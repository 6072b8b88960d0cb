"""App Home: the queue (pending approvals, failures, recent posts) for one person."""

from __future__ import annotations

from typing import Any

from handlers import ids
from handlers.blocks.card import button, context, mrkdwn
from handlers.blocks.messages import escape
from handlers.blocks.status import post_line
from services.home import HomeData
from services.models import Job, Post, PostStatus
from services.platforms import rules_for

Block = dict[str, Any]

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
    text = f"*{kind}* failed for good: {escape(job.last_error or 'unknown error')}"
    block: Block = {**mrkdwn(text), "block_id": f"job_{job.id}"}
    if data.is_approver:
        block["accessory"] = button("Retry", ids.RETRY_JOB, str(job.id))
    return block


def _posted_line(post: Post) -> str:
    name = rules_for(post.platform).name
    link = f"<{post.external_url}|View on {name}>" if post.external_url else "(dry run)"
    return f"• *{name}* by <@{post.approved_by}> · {link}"


def home_view(data: HomeData) -> dict[str, Any]:
    """The App Home tab."""
    blocks: list[Block] = [
        _header("socialpost"),
        context("Type `/socialpost` in any channel to draft a post. Updated as things change."),
        _header(f"Pending approval ({len(data.pending)})"),
    ]
    for post in data.pending:
        blocks += _pending(post, data)
    if not data.pending:
        blocks.append(context("Nothing waits for approval."))
    blocks.append(_header(f"Failed ({len(data.failed) + len(data.dead_jobs)})"))
    for post in data.failed:
        blocks += _failed(post, data)
    blocks += [_dead_job(job, data) for job in data.dead_jobs]
    if not data.failed and not data.dead_jobs:
        blocks.append(context("Nothing has failed."))
    blocks.append(_header("Recently posted"))
    if data.posted:
        blocks.append(mrkdwn("\n".join(_posted_line(post) for post in data.posted)))
    else:
        blocks.append(context("Nothing posted yet."))
    return {"type": "home", "blocks": blocks[:100]}
