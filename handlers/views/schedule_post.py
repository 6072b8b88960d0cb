"""Submission of the Schedule… modal."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck

from handlers import ids
from handlers.actions.outcome import refusal_text
from handlers.blocks.messages import post_at_problem
from handlers.blocks.modal import datetime_value
from handlers.replies import card_actor
from services.container import Services
from services.errors import InvalidRequest
from services.scheduling.rules import PostAtProblem


async def handle_schedule_post(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], services: Services
) -> None:
    """Approve the post for the chosen time. A time that has passed (or no time) stays in the
    modal with the reason; so does a refusal (another decision got there first), which only
    the submitter sees."""
    post_id, actor, _channel = card_actor(body, view)
    state = (view.get("state") or {}).get("values") or {}
    post_at = datetime_value(state, ids.POST_AT)
    if post_at is None:
        await ack(
            response_action="errors", errors={ids.POST_AT: post_at_problem(PostAtProblem.MISSING)}
        )
        return
    try:
        outcome = await services.decisions.approve(post_id, actor, post_at=post_at)
    except InvalidRequest as invalid:
        problem = PostAtProblem(invalid.errors["post_at"])
        await ack(response_action="errors", errors={ids.POST_AT: post_at_problem(problem)})
        return
    refused = refusal_text(outcome)
    if refused is not None:
        await ack(response_action="errors", errors={ids.POST_AT: refused})
        return
    await ack()
