"""The "Post as a thread" button of a long X draft."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.outcome import decide
from services.container import Services


async def handle_make_thread(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
) -> None:
    """Turn the draft into a thread of numbered posts."""
    await decide(ack, body, action, client, services.editing.make_thread)
