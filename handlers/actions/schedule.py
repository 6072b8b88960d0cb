"""The buttons of time on the card: Schedule…, Post now, Unschedule, Retry now, Revive."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.outcome import Decision, decide, open_post_modal
from handlers.blocks.modal import schedule_modal
from services.container import Services

ButtonHandler = Callable[
    [AsyncAck, dict[str, Any], dict[str, Any], AsyncWebClient, Services], Awaitable[None]
]


async def handle_schedule(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
) -> None:
    """Schedule…: open the "Post at" modal, if the clicker may approve this version."""
    build = functools.partial(schedule_modal, now=services.scheduling.clock.now())
    await open_post_modal(ack, body, action, client, services.scheduling.may_schedule, build)


def _deciding(decision: Callable[[Services], Decision], summary: str) -> ButtonHandler:
    """A card button that applies one scheduling decision (Bolt injects the arguments by
    name, so each handler keeps the full signature)."""

    async def handle(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        client: AsyncWebClient,
        services: Services,
    ) -> None:
        await decide(ack, body, action, client, decision(services))

    handle.__doc__ = summary
    return handle


handle_post_now = _deciding(
    lambda services: services.scheduling.post_now, "Post now: publish a scheduled post at once."
)
handle_unschedule = _deciding(
    lambda services: services.scheduling.unschedule, "Unschedule: the post is pending again."
)
handle_retry_now = _deciding(
    lambda services: services.scheduling.retry_now,
    "Retry now: a publish waiting for its next automatic try, tried at once.",
)
handle_revive = _deciding(
    lambda services: services.scheduling.revive, "Revive: an expired draft is pending again."
)
