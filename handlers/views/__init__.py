"""Modal submissions."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import ids
from handlers.views.edit_post import handle_edit_post
from handlers.views.new_post import handle_new_post
from handlers.views.regenerate_post import handle_regenerate_post
from handlers.views.schedule_post import handle_schedule_post


def register(app: AsyncApp) -> None:
    """Wire the modals' submissions."""
    app.view(ids.NEW_POST_VIEW)(handle_new_post)
    app.view(ids.EDIT_VIEW)(handle_edit_post)
    app.view(ids.REGENERATE_VIEW)(handle_regenerate_post)
    app.view(ids.SCHEDULE_VIEW)(handle_schedule_post)
