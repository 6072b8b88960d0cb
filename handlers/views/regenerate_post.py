"""Submission of the regenerate modal."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from handlers import ids
from handlers.actions.outcome import refusal_text
from handlers.blocks.messages import rate_limited
from handlers.blocks.modal import text_value
from handlers.replies import card_actor, tell_privately
from services.container import Services
from services.errors import InvalidRequest, RateLimited


async def handle_regenerate_post(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
) -> None:
    """Start a new version from the same brief; refusals stay in the modal."""
    post_id, actor, channel = card_actor(body, view)
    feedback = text_value((view.get("state") or {}).get("values") or {}, ids.FEEDBACK)
    try:
        outcome = await services.editing.regenerate(post_id, actor, feedback)
    except InvalidRequest as invalid:
        await ack(response_action="errors", errors={ids.FEEDBACK: invalid.errors["feedback"]})
        return
    except RateLimited as limited:
        message = rate_limited(limited.retry_after, limited.scope)
        await ack(response_action="errors", errors={ids.FEEDBACK: message})
        await tell_privately(client, actor.user_id, message, channel=channel)
        return
    refused = refusal_text(outcome)
    if refused is not None:
        await ack(response_action="errors", errors={ids.FEEDBACK: refused})
        return
    await ack()
