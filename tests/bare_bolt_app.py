"""A bare Bolt app that only acks `/socialpost` and opens a modal: the benchmark's baseline.

Run like the bot (`python -m tests.bare_bolt_app`) with SLACK_BOT_TOKEN, SLACK_APP_TOKEN and
SLACK_API_URL set; it is what a minimal Bolt for Python app does on the same machine.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

MODAL = {
    "type": "modal",
    "callback_id": "bare",
    "title": {"type": "plain_text", "text": "Bare Bolt"},
    "submit": {"type": "plain_text", "text": "Submit"},
    "blocks": [
        {
            "type": "input",
            "block_id": "brief",
            "label": {"type": "plain_text", "text": "Brief"},
            "element": {"type": "plain_text_input", "action_id": "brief"},
        }
    ],
}


async def handle_command(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
    """Ack at once, then open the modal."""
    await ack()
    await client.views_open(trigger_id=command["trigger_id"], view=MODAL)


async def main() -> None:
    """Serve until SIGTERM."""
    base_url = os.environ["SLACK_API_URL"]
    app = AsyncApp(client=AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=base_url))
    app.command("/socialpost")(handle_command)
    handler = AsyncSocketModeHandler(
        app, os.environ["SLACK_APP_TOKEN"], web_client=AsyncWebClient(base_url=base_url)
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await handler.connect_async()
    await stop.wait()
    await handler.close_async()


if __name__ == "__main__":
    asyncio.run(main())
