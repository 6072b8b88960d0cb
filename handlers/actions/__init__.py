"""Buttons on the approval cards, direct messages and App Home."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import ids
from handlers.actions.approve import handle_approve
from handlers.actions.discard import handle_discard
from handlers.actions.edit import handle_edit
from handlers.actions.make_thread import handle_make_thread
from handlers.actions.regenerate import handle_regenerate
from handlers.actions.reject import handle_reject
from handlers.actions.retry import handle_retry
from handlers.actions.retry_job import handle_retry_job
from handlers.actions.schedule import (
    handle_post_now,
    handle_retry_now,
    handle_revive,
    handle_schedule,
    handle_unschedule,
)
from handlers.actions.suggest_changes import handle_suggest_changes


def register(app: AsyncApp) -> None:
    """Wire every button."""
    app.action(ids.APPROVE)(handle_approve)
    app.action(ids.REJECT)(handle_reject)
    app.action(ids.EDIT)(handle_edit)
    app.action(ids.REGENERATE)(handle_regenerate)
    app.action(ids.SUGGEST_CHANGES)(handle_suggest_changes)
    app.action(ids.MAKE_THREAD)(handle_make_thread)
    app.action(ids.RETRY)(handle_retry)
    app.action(ids.DISCARD)(handle_discard)
    app.action(ids.RETRY_JOB)(handle_retry_job)
    app.action(ids.SCHEDULE)(handle_schedule)
    app.action(ids.POST_NOW)(handle_post_now)
    app.action(ids.UNSCHEDULE)(handle_unschedule)
    app.action(ids.RETRY_NOW)(handle_retry_now)
    app.action(ids.REVIVE)(handle_revive)
