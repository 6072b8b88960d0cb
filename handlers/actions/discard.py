"""The Discard button of an approval card."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.outcome import reply_to
from handlers.replies import actor_from
from services.container import Services


async def handle_discard(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
) -> None:
    """Discard the post whose id is the button's value."""
    await ack()
    actor = actor_from(body)
    outcome = await services.approval.discard(action["value"], actor)
    await reply_to(client, actor, outcome)
