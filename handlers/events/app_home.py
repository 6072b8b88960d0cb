"""The App Home tab being opened."""

from __future__ import annotations

from typing import Any

from services.container import Services


async def handle_app_home_opened(event: dict[str, Any], services: Services) -> None:
    """Show the queue in the Home tab and keep it fresh while it is in use."""
    if event.get("tab", "home") == "home":
        await services.home.opened(event["user"])
