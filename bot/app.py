"""The Bolt app: one middleware hands the services (and App Home) to every handler; one error
handler."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Mode, Settings
from handlers import register_handlers
from handlers.blocks.messages import UNEXPECTED_ERROR
from handlers.replies import tell_privately
from handlers.slack_out import AppHome
from services.container import Services

log = structlog.get_logger(__name__)


class _DropClientPrioritizedWarning(logging.Filter):
    # Bolt warns when SLACK_BOT_TOKEN is set and a client is given: we give the client on
    # purpose (shared session, SLACK_API_URL).
    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def _request_fields(body: dict[str, Any]) -> dict[str, Any]:
    """What identifies a Slack request in the logs (never its tokens)."""
    actions = body.get("actions") or [{}]
    view = body.get("view") or {}
    event = body.get("event") or {}
    fields = {
        "slack_type": body.get("type") or body.get("command") or event.get("type"),
        "user": (body.get("user") or {}).get("id") or body.get("user_id") or event.get("user"),
        "action_id": actions[0].get("action_id"),
        "callback_id": view.get("callback_id"),
    }
    return {key: value for key, value in fields.items() if value}


def create_app(
    settings: Settings, services: Services, app_home: AppHome, client: AsyncWebClient
) -> AsyncApp:
    """The Bolt app with every handler registered; handlers receive `services` (the domain)
    and `app_home` (the Home tabs, which are Slack's)."""
    bolt_logger = logging.getLogger("slack_bolt.AsyncApp")
    bolt_logger.addFilter(_DropClientPrioritizedWarning())
    signing_secret = settings.connection.signing_secret
    app = AsyncApp(
        client=client,
        logger=bolt_logger,
        signing_secret=signing_secret.get_secret_value() if signing_secret else "",
        request_verification_enabled=settings.connection.mode == Mode.HTTP,
        name="socialpost",
    )

    async def provide_services(
        context: AsyncBoltContext, body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> None:
        context["services"] = services
        context["app_home"] = app_home
        with structlog.contextvars.bound_contextvars(**_request_fields(body)):
            await next()

    async def handle_error(error: Exception, body: dict[str, Any], client: AsyncWebClient) -> None:
        log.error("handler_failed", exc_info=error, **_request_fields(body))
        user = (body.get("user") or {}).get("id") or body.get("user_id")
        channel = (body.get("channel") or {}).get("id") or body.get("channel_id")
        if user:
            await tell_privately(client, user, UNEXPECTED_ERROR, channel=channel)

    app.use(provide_services)
    app.error(handle_error)
    register_handlers(app)
    return app
