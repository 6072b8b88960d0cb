"""A bare Bolt app that only acks `/socialpost` and opens a modal: the benchmark's baseline.

Run like the bot (`python -m tests.support.bare_bolt_app`) with SLACK_BOT_TOKEN, SLACK_APP_TOKEN and
SLACK_API_URL set; it is what a minimal Bolt for Python app does on the same machine.
BARE_MODAL_JSON may name a file holding the modal to open (the benchmark passes the bot's own,
so both apps make Slack do the same work).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
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


def modal() -> dict[str, Any]:
    """The modal to open: BARE_MODAL_JSON's, or a one-field form."""
    path = os.environ.get("BARE_MODAL_JSON")
    if path:
        view: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
        return view
    return MODAL


async def main() -> None:
    """Serve until SIGTERM."""
    view = modal()

    async def handle_command(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """Ack at once, then open the modal."""
        await ack()
        await client.views_open(trigger_id=command["trigger_id"], view=view)

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
