"""The Edit button: open the draft in a modal."""

from __future__ import annotations

import functools
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.outcome import open_post_modal
from handlers.blocks.modal import edit_modal
from services.container import Services


async def handle_edit(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
) -> None:
    """Open the edit modal prefilled with the draft, if the clicker may edit it."""
    check = functools.partial(services.editing.may_change, action="edit")
    await open_post_modal(ack, body, action, client, check, edit_modal)
