"""Submission of the edit modal."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck

from handlers import ids
from handlers.actions.outcome import refusal_text
from handlers.blocks.modal import edited_text
from handlers.replies import card_actor
from services.container import Services
from services.errors import InvalidRequest


async def handle_edit_post(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], services: Services
) -> None:
    """Save the edited text (its boxes joined back) as a new version; a text over the limit
    stays in the modal with its measured length, shown on the first box."""
    post_id, actor, _channel = card_actor(body, view)
    text = edited_text(view)
    try:
        outcome = await services.editing.edit(post_id, actor, text)
    except InvalidRequest as invalid:
        await ack(response_action="errors", errors={ids.DRAFT_TEXT: invalid.errors["text"]})
        return
    refused = refusal_text(outcome)
    if refused is not None:
        await ack(response_action="errors", errors={ids.DRAFT_TEXT: refused})
        return
    await ack()
