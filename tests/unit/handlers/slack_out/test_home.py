"""App Home (`handlers.slack_out.home`): the viewers live in the database, so a change in any
process refreshes the tabs opened through any other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack_out.delivery import SlackDelivery
from handlers.slack_out.home import AppHome
from services.jobs.registry import JobTypes
from services.overview import Overview
from services.policy import Policy
from storage import Store, open_store, sqlite_url
from tests.support.emulators.slack import SlackEmulator


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh database."""
    opened = await open_store(sqlite_url(tmp_path / "socialpost.db"))
    yield opened
    await opened.close()


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    """The Slack emulator, started."""
    async with SlackEmulator() as emulator:
        emulator.add_channel("C0APPROVALS", "approvals")
        yield emulator


async def test_a_change_in_one_process_refreshes_a_tab_opened_through_another(
    store: Store, slack: SlackEmulator
) -> None:
    """U1 opens their tab through one App Home (one process); a change seen by another App
    Home on the same database (a second process, which U1 never reached) refreshes U1's tab."""
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, session=session)
        delivery = SlackDelivery(client, approval_channel="C0APPROVALS", dry_run_platforms=())
        overview = Overview(store, Policy.of((), allow_self_approval=False), JobTypes())
        opened_through = AppHome(store, overview, delivery, debounce=0.01)
        other_process = AppHome(store, overview, delivery, debounce=0.01)
        await opened_through.opened("U1")
        assert len(slack.calls_to("views.publish")) == 1
        other_process.changed()
        await other_process.idle()
        publishes = slack.calls_to("views.publish")
        assert len(publishes) == 2 and publishes[1].args["user_id"] == "U1"
        await opened_through.aclose()
        await other_process.aclose()
