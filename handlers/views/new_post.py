"""Submission of the new-post modal."""

from __future__ import annotations

import uuid
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from handlers import ids
from handlers.blocks.messages import drafting_refused, post_at_problem
from handlers.blocks.modal import datetime_value, origin_channel, selected_values, text_value
from handlers.replies import tell_privately
from services.container import Services
from services.errors import BudgetExhausted, InvalidRequest, RateLimited
from services.intake import DraftRequest
from services.scheduling.rules import PostAtProblem

# Service field -> the modal block that shows its error.
FIELD_BLOCKS = {
    "brief": ids.BRIEF,
    "platforms": ids.PLATFORM,
    "tone": ids.TONE,
    "image_url": ids.IMAGE_URL,
    "post_at": ids.POST_AT,
}


async def handle_new_post(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
) -> None:
    """Check the form; errors stay in the modal, a valid request closes it and starts drafting.

    The posts are stored before the ack, so a request Slack saw accepted can't be lost; the
    view id makes a re-delivered submission find them instead of creating new ones.
    """
    state = (view.get("state") or {}).get("values") or {}
    user_id = body["user"]["id"]
    request = DraftRequest(
        # The idempotency key: Slack re-delivers a submission with the same view id (and
        # always sends one; without it there is nothing to de-duplicate on).
        request_id=f"slack:view:{view.get('id') or uuid.uuid4()}",
        requester=user_id,
        brief=text_value(state, ids.BRIEF),
        platforms=tuple(selected_values(state, ids.PLATFORM)),
        tone=next(iter(selected_values(state, ids.TONE)), None),
        image_url=text_value(state, ids.IMAGE_URL) or None,
        thread=ids.THREAD in selected_values(state, ids.THREAD),
        post_at=datetime_value(state, ids.POST_AT),
    )
    try:
        await services.intake.submit(request)
    except InvalidRequest as invalid:
        errors = {FIELD_BLOCKS.get(name, ids.BRIEF): text for name, text in invalid.errors.items()}
        if "post_at" in invalid.errors:
            errors[ids.POST_AT] = post_at_problem(PostAtProblem(invalid.errors["post_at"]))
        await ack(response_action="errors", errors=errors)
        return
    except (RateLimited, BudgetExhausted) as refused:
        message = drafting_refused(refused)
        await ack(response_action="errors", errors={ids.BRIEF: message})
        await tell_privately(client, user_id, message, channel=origin_channel(view))
        return
    await ack()
