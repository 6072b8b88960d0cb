"""A platform added to the registry, and nowhere else, works end to end in the real bot."""

from __future__ import annotations

import pytest

from services.platforms import PLATFORMS
from tests.support.harness import APPROVER, DEFAULT_DRAFT, World
from tests.unit.services.platforms.test_registry import TOOT


async def test_a_registered_platform_is_offered_drafted_measured_and_published(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With only a descriptor registered (no prompt file, no settings field, no migration, no
    other change), Toot is in the modal, gets a draft card measured by its limit, and
    Approve publishes it as a dry run; its social_platforms row was created at start-up."""
    monkeypatch.setitem(PLATFORMS, "toot", TOOT)
    bot = await world.start_bot()
    view = await bot.open_modal()
    platform_block = next(b for b in view["blocks"] if b["block_id"] == "platform")
    assert [o["value"] for o in platform_block["element"]["options"]][-1] == "toot"
    await bot.submit("Say hello on Toot", platforms=("toot",), view=view)
    card = await bot.draft_card()
    text = card.all_text()
    assert "*Toot draft*" in text and f"{len(DEFAULT_DRAFT)}/100 characters" in text
    assert "dry run" in text
    assert any("Write one post for Toot." in r.user_text for r in world.openai.requests)
    await bot.click(card, "approve", APPROVER)
    posted = await bot.wait_card(lambda c: "Posted to Toot by" in c.all_text())
    assert "dry run: nothing was sent to Toot" in posted.all_text()
    platforms = {p.slug: p.char_limit for p in await bot.runtime.store.posts.platforms()}
    assert platforms["toot"] == 100
