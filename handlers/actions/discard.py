"""The Discard button."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.outcome import decide
from services.container import Services


async def handle_discard(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
) -> None:
    """Discard: give up on a failed post."""
    await decide(ack, body, action, client, services.decisions.discard)
