"""Slash commands."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import ids
from handlers.commands.socialpost import handle_socialpost


def register(app: AsyncApp) -> None:
    """Wire `/socialpost`."""
    app.command(ids.COMMAND)(handle_socialpost)
