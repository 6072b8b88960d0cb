"""The Slack layer: one module per trigger, each exposing `handle_<thing>` functions."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import actions, commands, events, views


def register_handlers(app: AsyncApp) -> None:
    """Wire every handler to its Slack trigger."""
    commands.register(app)
    views.register(app)
    actions.register(app)
    events.register(app)
