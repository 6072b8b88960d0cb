"""The Retry button of a dead job in App Home."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.outcome import decide
from services.container import Services
from services.models import Actor, Outcome, Verdict


async def handle_retry_job(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
) -> None:
    """Run the dead job whose id is the button's value again."""

    async def retry(value: str, actor: Actor) -> Outcome:
        if not value.isdigit():
            return Outcome(Verdict.NOT_FOUND)
        return await services.decisions.retry_job(int(value), actor)

    await decide(ack, body, action, client, retry)
