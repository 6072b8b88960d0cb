"""The platform registry: everything reads it, so a new platform is its descriptor and nothing
else. A throwaway platform, "Toot", is registered for these tests only."""

from __future__ import annotations

from typing import ClassVar

import aiohttp
import pytest
from pydantic import Field, SecretStr

import prompts
from bot.settings import Settings, SettingsError, load_settings
from handlers.blocks.card import approval_card
from handlers.blocks.messages import help_text
from handlers.blocks.modal import new_post_modal
from services.models import Post, PostStatus
from services.platforms import (
    PLATFORMS,
    REGISTERED,
    build_publishers,
    dry_run_platforms,
    measure_draft,
    offered_platforms,
)
from services.platforms.base import (
    Checkpoints,
    DryRun,
    PlatformSettings,
    PlatformSpec,
    PublishResult,
    reveal,
)

MINIMAL = {
    "SLACK_BOT_TOKEN": "xoxb-1-abc",
    "SLACK_APP_TOKEN": "xapp-1-abc",
    "SOCIALPOST_APPROVAL_CHANNEL": "C0APPROVALS",
}


class TootSettings(PlatformSettings):
    """TOOT_*: a token and the account it posts as."""

    platform_name: ClassVar[str] = "Toot"
    env_prefix: ClassVar[str] = "TOOT_"
    credentials: ClassVar[tuple[str, ...]] = ("token", "account")

    token: SecretStr | None = Field(None, validation_alias="TOOT_TOKEN")
    account: str | None = Field(None, validation_alias="TOOT_ACCOUNT")


class TootPublisher:
    """Keeps what it was asked to publish."""

    platform = "toot"
    dry_run = False

    def __init__(self, token: str, session: aiohttp.ClientSession) -> None:
        self.token = token
        self.session = session
        self.published: list[str] = []

    async def publish(self, post: Post, checkpoints: Checkpoints) -> PublishResult:
        """Pretend Toot took it."""
        self.published.append(post.message or "")
        return PublishResult(external_id=f"toot-{len(self.published)}")


def build_toot(settings: TootSettings, session: aiohttp.ClientSession) -> TootPublisher:
    """Toot's publisher."""
    return TootPublisher(reveal(settings.token), session)


TOOT = PlatformSpec(
    slug="toot",
    name="Toot",
    limit=100,
    rule="characters",
    max_hashtags=2,
    settings=TootSettings,
    build_publisher=build_toot,
)


@pytest.fixture
def toot(monkeypatch: pytest.MonkeyPatch) -> PlatformSpec[TootSettings]:
    """Toot in the registry, after the real platforms, for this test only."""
    monkeypatch.setitem(PLATFORMS, "toot", TOOT)
    return TOOT


def settings_with(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    for name, value in {**MINIMAL, **values}.items():
        monkeypatch.setenv(name, value)
    return load_settings(env_file=None)


def pending(platform: str, message: str) -> Post:
    """A pending draft for `platform`."""
    return Post(
        id="post-1",
        status=PostStatus.PENDING,
        platform=platform,
        message=message,
        requester="U1",
        brief="hello",
        version=1,
        created_at="2026-01-01T00:00:00Z",
        updated_at="2026-01-01T00:00:00Z",
    )


def test_the_registry_lists_every_platform_folder_in_order() -> None:
    """PLATFORMS holds one descriptor per registered folder, in the modal's order, each named
    after its folder."""
    assert list(PLATFORMS) == list(REGISTERED) == ["x", "linkedin", "instagram"]
    assert all(spec.slug == slug for slug, spec in PLATFORMS.items())


def test_a_new_platform_is_offered_in_the_modal_as_a_dry_run(
    monkeypatch: pytest.MonkeyPatch, toot: PlatformSpec[TootSettings]
) -> None:
    """Registered and without credentials, Toot is offered (as a dry run) after the others,
    and named in the help text."""
    settings = settings_with(monkeypatch)
    offered = offered_platforms(settings.platforms, settings.publishing.dry_run)
    dry = dry_run_platforms(settings.platforms, settings.publishing.dry_run)
    assert offered == ["x", "linkedin", "instagram", "toot"] and "toot" in dry
    view = new_post_modal(platforms=offered, dry_run_platforms=sorted(dry))
    (platform_block,) = [b for b in view["blocks"] if b.get("block_id") == "platform"]
    option = platform_block["element"]["options"][-1]
    assert option["value"] == "toot" and option["text"]["text"] == "Toot"
    assert option["description"]["text"] == "dry run"
    assert "(X, LinkedIn, Instagram, Toot)" in help_text("/socialpost")


def test_a_new_platform_is_measured_by_its_rules(toot: PlatformSpec[TootSettings]) -> None:
    """Toot's limit and hashtag cap apply to its drafts, and its card counts in characters
    and offers no thread (it has no thread capability)."""
    assert measure_draft("toot", "a" * 100).within_limit
    over = measure_draft("toot", "a" * 101)
    assert over.problems == ("101/100 characters, over the limit (characters)",)
    assert measure_draft("toot", "#a #b #c").problems == ("3 hashtags, at most 2 allowed",)
    text, blocks = approval_card(pending("toot", "a" * 120), dry_run=True)
    dumped = str(blocks)
    assert "120/100 characters, over the limit" in dumped and "Toot draft" in dumped
    assert "socialpost_make_thread" not in dumped and "Toot" in text


def test_a_new_platform_without_a_prompt_file_gets_the_generic_prompt(
    toot: PlatformSpec[TootSettings],
) -> None:
    """No prompts/toot.md: the generic prompt names Toot, its limit and its rule."""
    task = prompts.task_prompt(
        "toot", "BRIEF", name=toot.name, tone=None, limit=toot.limit, rule=toot.rule
    )
    assert task.startswith("Write one post for Toot.")
    assert "At most 100 characters (characters)" in task and "<brief>\nBRIEF\n</brief>" in task


async def test_a_new_platform_publishes_through_its_own_publisher_once_configured(
    monkeypatch: pytest.MonkeyPatch, toot: PlatformSpec[TootSettings]
) -> None:
    """Without credentials Toot gets the dry-run publisher; with them, its own, on the one
    shared session."""
    async with aiohttp.ClientSession() as session:
        settings = settings_with(monkeypatch)
        dry = build_publishers(settings.platforms, DryRun.AUTO, session)["toot"]
        assert dry.dry_run
        settings = settings_with(monkeypatch, TOOT_TOKEN="toot-secret", TOOT_ACCOUNT="me")
        assert "toot" in settings.configured_platforms
        publisher = build_publishers(settings.platforms, DryRun.AUTO, session)["toot"]
        assert isinstance(publisher, TootPublisher) and publisher.session is session
        assert publisher.token == "toot-secret"
        assert "toot-secret" in settings.secret_values()


def test_a_new_platforms_settings_are_checked_like_the_others(
    monkeypatch: pytest.MonkeyPatch, toot: PlatformSpec[TootSettings]
) -> None:
    """Half-set Toot credentials stop start-up naming what is missing; with
    SOCIALPOST_DRY_RUN=false and nothing configured, the message names TOOT_* too."""
    with pytest.raises(SettingsError) as half:
        settings_with(monkeypatch, TOOT_TOKEN="toot-secret")
    assert half.value.problems == [
        "TOOT_ACCOUNT: required to post to Toot, since TOOT_TOKEN is set"
    ]
    monkeypatch.delenv("TOOT_TOKEN")
    with pytest.raises(SettingsError) as none:
        settings_with(monkeypatch, SOCIALPOST_DRY_RUN="false")
    assert none.value.problems == [
        "SOCIALPOST_DRY_RUN: is false but no platform has credentials "
        "(set the X_*, LINKEDIN_*, INSTAGRAM_* or TOOT_* variables, or use auto)"
    ]
