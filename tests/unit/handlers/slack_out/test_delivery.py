"""Slack delivery against the Slack emulator: Slack's pauses, lane by lane."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack_out.delivery import DeliveryError, SlackDelivery
from services.models import Post, PostStatus
from services.overview import HomeData
from tests.support.emulators.slack import SlackEmulator

CHANNEL = "C0APPROVALS"


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    """The Slack emulator, started, with the approval channel."""
    async with SlackEmulator() as emulator:
        emulator.add_channel(CHANNEL, "approvals")
        yield emulator


@pytest.fixture
async def notifier(slack: SlackEmulator) -> AsyncIterator[SlackDelivery]:
    """A notifier whose Web client has no retry handlers (the retry table retries)."""
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(
            token=slack.bot_token, base_url=slack.api_url, session=session, retry_handlers=[]
        )
        yield SlackDelivery(client, approval_channel=CHANNEL, dry_run_platforms=())


def pending_post() -> Post:
    """A pending X draft without a card yet."""
    return Post(
        id="post-1",
        status=PostStatus.PENDING,
        platform="x",
        message="Hello",
        requester="U1",
        created_at="2026-01-01T00:00:00Z",
        updated_at="2026-01-01T00:00:00Z",
    )


HOME = HomeData(
    viewer="U1",
    pending=[],
    failed=[],
    dead_jobs=[],
    posted=[],
    pending_total=0,
    failed_total=0,
    dead_jobs_total=0,
)


async def test_app_home_waits_out_a_rate_limit_on_messages(
    slack: SlackEmulator, notifier: SlackDelivery
) -> None:
    """After Slack answers a card with 429, App Home refreshes hold back too (nothing sent)."""
    slack.fail_method_with_error("chat.postMessage", "ratelimited", retry_after=30)
    with pytest.raises(DeliveryError):
        await notifier.show_card(pending_post())
    with pytest.raises(DeliveryError) as held:
        await notifier.show_home("U1", HOME)
    assert not held.value.attempted
    assert slack.calls_to("views.publish") == []


async def test_a_rate_limit_on_app_home_never_holds_up_cards(
    slack: SlackEmulator, notifier: SlackDelivery
) -> None:
    """A 429 on views.publish pauses App Home refreshes only: cards still go out."""
    slack.fail_method_with_error("views.publish", "ratelimited", retry_after=30)
    with pytest.raises(DeliveryError):
        await notifier.show_home("U1", HOME)
    with pytest.raises(DeliveryError) as held:
        await notifier.show_home("U1", HOME)
    assert not held.value.attempted
    assert len(slack.calls_to("views.publish")) == 1
    card = await notifier.show_card(pending_post())
    assert card.place == CHANNEL
    assert len(slack.calls_to("chat.postMessage")) == 1
