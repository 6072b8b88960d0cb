"""The Reject button."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.outcome import decide
from services.container import Services


async def handle_reject(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
) -> None:
    """Reject: the post will never be published."""
    await decide(ack, body, action, client, services.decisions.reject)
