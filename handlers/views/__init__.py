"""Modal submissions."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import ids
from handlers.views.new_post import handle_new_post


def register(app: AsyncApp) -> None:
    """Wire the modals' submissions."""
    app.view(ids.NEW_POST_VIEW)(handle_new_post)
