"""Private replies to the person who clicked or typed something."""

from __future__ import annotations

import json
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.ids import post_and_version
from services.models import Actor, CardRef

log = structlog.get_logger(__name__)


def card_at(channel: str | None, message_ts: str | None) -> CardRef | None:
    """The card a click came from: a message in a channel. A click in App Home (no message)
    or in a direct message (a "D" channel) came from a private place: no card."""
    if channel is None or message_ts is None or channel.startswith("D"):
        return None
    return CardRef(place=channel, id=message_ts)


def actor_from(body: dict[str, Any]) -> tuple[Actor, str | None]:
    """Who clicked a button, and on which card (none from App Home or a direct message); and
    the channel the click came from (for private replies)."""
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    message_ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    return Actor(user_id=body["user"]["id"], card=card_at(channel, message_ts)), channel


def clicked(body: dict[str, Any], action: dict[str, Any]) -> tuple[str, Actor, str | None]:
    """The post a button names, who clicked it where having seen which version, and the
    channel of the click."""
    post_id, version = post_and_version(str(action.get("value") or ""))
    actor, channel = actor_from(body)
    return post_id, actor.model_copy(update={"seen_version": version}), channel


def card_actor(body: dict[str, Any], view: dict[str, Any]) -> tuple[str, Actor, str | None]:
    """The post a card's modal (edit, regenerate) was opened for, who submitted it, and the
    channel the modal was opened from."""
    metadata = json.loads(view.get("private_metadata") or "{}")
    version = metadata.get("version")
    channel = metadata.get("channel")
    actor = Actor(
        user_id=body["user"]["id"],
        card=card_at(channel, metadata.get("message_ts")),
        seen_version=version if isinstance(version, int) else None,
    )
    return str(metadata.get("post_id", "")), actor, channel


async def tell_privately(
    client: AsyncWebClient, user_id: str, text: str, *, channel: str | None = None
) -> None:
    """An ephemeral message in `channel` (only `user_id` sees it), else a direct message.

    The ephemeral can fail (the bot isn't in the channel the command came from, say); the
    person still gets the answer, from the bot's DM.
    """
    if channel and not channel.startswith("D"):
        try:
            await client.chat_postEphemeral(channel=channel, user=user_id, text=text)
            return
        except SlackApiError as exc:
            log.info("ephemeral_failed_using_dm", user=user_id, error=exc.response.get("error"))
    try:
        await client.chat_postMessage(channel=user_id, text=text)
    except SlackApiError as exc:
        # A private reply is a courtesy: losing one must not turn into an error for the user.
        log.warning("private_reply_failed", user=user_id, error=exc.response.get("error"))
