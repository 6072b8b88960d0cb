"""The "Suggest changes…" button: ask for feedback in a modal, then regenerate."""

from __future__ import annotations

import functools
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.outcome import open_post_modal
from handlers.blocks.modal import regenerate_modal
from services.container import Services


async def handle_suggest_changes(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
) -> None:
    """Open the feedback modal, if the clicker may regenerate the draft."""
    check = functools.partial(services.editing.may_change, action="regenerate")
    await open_post_modal(ack, body, action, client, check, regenerate_modal)
