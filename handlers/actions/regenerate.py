"""The Regenerate button: a new version from the same brief, right away."""

from __future__ import annotations

import functools
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.outcome import decide
from services.container import Services


async def handle_regenerate(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
) -> None:
    """Write a new version of the draft (no feedback: "Suggest changes…" takes some)."""
    regenerate = functools.partial(services.editing.regenerate, feedback=None)
    await decide(ack, body, action, client, regenerate)
