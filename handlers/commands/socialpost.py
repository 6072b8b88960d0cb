"""`/socialpost [brief]`, `/socialpost help`, `/socialpost status`, `/socialpost ideas [topic]`."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from handlers import ids
from handlers.blocks.messages import IDEAS_QUEUED, help_text, rate_limited
from handlers.blocks.modal import fits_prefill, new_post_modal, prefill_too_long
from handlers.blocks.status import status_blocks
from services.container import Services
from services.errors import RateLimited


async def handle_socialpost(
    ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, services: Services
) -> None:
    """Open the new-post modal (brief prefilled from the text), or answer help / status, or
    start an ideas run."""
    text = (command.get("text") or "").strip()
    word = text.lower()
    first, _, rest = text.partition(" ")
    if first.lower() == "ideas":
        try:
            await services.ideas.run_now(command["user_id"], rest.strip() or None)
        except RateLimited as limited:
            await ack(text=rate_limited(limited.retry_after, limited.scope))
            return
        await ack(text=IDEAS_QUEUED)
        return
    if word in {"help", "-h", "--help", "?"}:
        await ack(text=help_text(command.get("command") or ids.COMMAND))
        return
    if word == "status":
        status = await services.overview.status(command["user_id"])
        summary, blocks = status_blocks(
            [listed.post for listed in status.pending],
            [listed.post for listed in status.failed],
            pending_total=status.pending_total,
            failed_total=status.failed_total,
            dead_jobs=status.dead_jobs,
            idea_runs=await services.ideas.history(),
            month_spend=status.month_spend,
            budget=status.budget,
            scheduled=[listed.post for listed in status.scheduled],
            scheduled_total=status.scheduled_total,
        )
        await ack(text=summary, blocks=blocks)
        return
    if not fits_prefill(text):
        notice, blocks = prefill_too_long(text)
        await ack(text=notice, blocks=blocks)
        return
    await ack()
    await client.views_open(
        trigger_id=command["trigger_id"],
        view=new_post_modal(
            platforms=services.intake.offered_platforms,
            dry_run_platforms=services.intake.dry_run_platforms,
            brief=text,
            origin_channel=command.get("channel_id"),
        ),
    )
