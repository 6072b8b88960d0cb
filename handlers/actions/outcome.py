"""What the clicker is told privately when a button did not do what they asked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks import messages
from handlers.blocks.markup import md
from handlers.blocks.times import slack_date
from handlers.replies import clicked, tell_privately
from services.errors import BudgetExhausted, RateLimited
from services.models import Actor, Outcome, Verdict
from services.platforms import measure_draft_async, spec_for

Decision = Callable[[str, Actor], Awaitable[Outcome]]

REFUSALS = {
    Verdict.NOT_FOUND: messages.NOT_FOUND,
    Verdict.WRONG_CARD: messages.WRONG_CARD,
    Verdict.NOT_APPROVER: messages.NOT_APPROVER,
    Verdict.NOT_EDITOR: messages.NOT_EDITOR,
    Verdict.OWN_POST: messages.OWN_POST,
    Verdict.STALE_VERSION: messages.STALE_VERSION,
    Verdict.ALREADY_APPROVED: messages.ALREADY_APPROVED,
    Verdict.APPROVED_BY_YOU: messages.APPROVED_BY_YOU,
    Verdict.ALREADY_REJECTED: messages.ALREADY_REJECTED,
    Verdict.NOT_READY: messages.NOT_READY,
    Verdict.NOT_EDITABLE: messages.NOT_EDITABLE,
    Verdict.NOT_FAILED: messages.NOT_FAILED,
    Verdict.DISCARDED: messages.DISCARDED,
    Verdict.EXPIRED: messages.EXPIRED,
    Verdict.NOT_SCHEDULED: messages.NOT_SCHEDULED,
    Verdict.ALREADY_PUBLISHING: messages.ALREADY_PUBLISHING,
    Verdict.NOT_RETRYING: messages.NOT_RETRYING,
    Verdict.NOT_EXPIRED: messages.NOT_EXPIRED,
}


def refusal_text(outcome: Outcome) -> str | None:
    """The private answer to a refused click (None when the click did its job)."""
    if outcome.done:
        return None
    if outcome.verdict == Verdict.OVER_LIMIT and outcome.post is not None:
        name = spec_for(outcome.post.platform).name
        return md(messages.OVER_LIMIT, platform=name, measure=outcome.detail or "")
    if outcome.verdict == Verdict.POLICY:
        return messages.policy_refusal(outcome.detail or "")
    if outcome.verdict == Verdict.ALREADY_SCHEDULED:
        post = outcome.post
        moment = post.scheduled_for if post is not None else None
        when = slack_date(moment) if moment is not None else md("a later time")
        return md(messages.ALREADY_SCHEDULED, time=when)
    return REFUSALS[outcome.verdict]


async def reply_to(
    client: AsyncWebClient, actor: Actor, outcome: Outcome, channel: str | None
) -> None:
    """Tell the clicker (in `channel`, where they clicked) why nothing happened; say nothing
    when it worked (the card shows it)."""
    text = refusal_text(outcome)
    if text is not None:
        await tell_privately(client, actor.user_id, text, channel=channel)


async def decide(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    decision: Decision,
) -> None:
    """Ack a card button, apply its decision to the post in its value, explain a refusal.

    The ack comes first (Slack allows 3 seconds, and a storm of clicks queues up on the
    database); the card itself shows when the decision has been stored.
    """
    await ack()
    post_id, actor, channel = clicked(body, action)
    try:
        outcome = await decision(post_id, actor)
    except (RateLimited, BudgetExhausted) as refused:
        text = messages.drafting_refused(refused)
        await tell_privately(client, actor.user_id, text, channel=channel)
        return
    await reply_to(client, actor, outcome, channel)


ModalBuilder = Callable[..., dict[str, Any]]


async def open_post_modal(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    check: Decision,
    build: ModalBuilder,
) -> None:
    """Ack a card button, check the clicker may change the post, then open `build`'s modal."""
    await ack()
    post_id, actor, channel = clicked(body, action)
    outcome = await check(post_id, actor)
    if not outcome.done or outcome.post is None:
        await reply_to(client, actor, outcome, channel)
        return
    post = outcome.post
    # A modal may show the draft post by post: split off the event loop first (then cached).
    await measure_draft_async(post.platform, post.message or "", thread=post.thread)
    message_ts = actor.card.id if actor.card else None
    view = build(post, channel=channel, message_ts=message_ts)
    await client.views_open(trigger_id=body["trigger_id"], view=view)
