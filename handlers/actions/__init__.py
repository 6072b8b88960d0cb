"""Buttons on the approval cards and App Home."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import ids
from handlers.actions.approve import handle_approve
from handlers.actions.discard import handle_discard
from handlers.actions.reject import handle_reject
from handlers.actions.retry import handle_retry


def register(app: AsyncApp) -> None:
    """Wire every button."""
    app.action(ids.APPROVE)(handle_approve)
    app.action(ids.REJECT)(handle_reject)
    app.action(ids.DISCARD)(handle_discard)
    app.action(ids.RETRY)(handle_retry)
