"""Events API subscriptions."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.events.app_home import handle_app_home_opened
from handlers.events.usergroups import handle_subteam_members_changed


def register(app: AsyncApp) -> None:
    """Wire the events the app subscribes to."""
    app.event("app_home_opened")(handle_app_home_opened)
    app.event("subteam_members_changed")(handle_subteam_members_changed)
