"""The Retry button."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.outcome import decide
from services.container import Services


async def handle_retry(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
) -> None:
    """Retry: publish, draft or deliver a failed post again."""
    await decide(ack, body, action, client, services.decisions.retry)
