"""The App Home tab being opened."""

from __future__ import annotations

from typing import Any

from handlers.slack_out import AppHome


async def handle_app_home_opened(event: dict[str, Any], app_home: AppHome) -> None:
    """Show the queue in the Home tab and keep it fresh while it is in use."""
    if event.get("tab", "home") == "home":
        await app_home.opened(event["user"])
