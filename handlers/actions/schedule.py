"""The buttons of time on the card: Schedule…, Post now, Unschedule, Retry now, Revive."""

from __future__ import annotations

import functools
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.outcome import decide, open_post_modal
from handlers.blocks.modal import schedule_modal
from services.container import Services


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


async def handle_post_now(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
) -> None:
    """Post now: publish a scheduled post at once."""
    await decide(ack, body, action, client, services.scheduling.post_now)


async def handle_unschedule(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
) -> None:
    """Unschedule: the post is pending again."""
    await decide(ack, body, action, client, services.scheduling.unschedule)


async def handle_retry_now(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
) -> None:
    """Retry now: a publish waiting for its next automatic try, tried at once."""
    await decide(ack, body, action, client, services.scheduling.retry_now)


async def handle_revive(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
) -> None:
    """Revive: an expired draft is pending again."""
    await decide(ack, body, action, client, services.scheduling.revive)
