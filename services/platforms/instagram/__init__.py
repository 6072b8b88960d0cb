"""Instagram: the Graph API's content publishing; an image with a caption, at most 30 hashtags."""

from __future__ import annotations

from typing import ClassVar

import aiohttp
from pydantic import Field, SecretStr

from services.platforms.base import ApiUrl, PlatformSettings, PlatformSpec, reveal
from services.platforms.instagram.publisher import InstagramPublisher


class InstagramSettings(PlatformSettings):
    """INSTAGRAM_*: the token and the Instagram professional account it posts as."""

    platform_name: ClassVar[str] = "Instagram"
    env_prefix: ClassVar[str] = "INSTAGRAM_"
    credentials: ClassVar[tuple[str, ...]] = ("access_token", "user_id")

    access_token: SecretStr | None = Field(None, validation_alias="INSTAGRAM_ACCESS_TOKEN")
    user_id: str | None = Field(None, validation_alias="INSTAGRAM_USER_ID")
    api_url: ApiUrl = Field(
        "https://graph.facebook.com/v21.0", validation_alias="INSTAGRAM_API_URL"
    )


def build_publisher(
    settings: InstagramSettings, session: aiohttp.ClientSession
) -> InstagramPublisher:
    """The Instagram publisher for the configured account."""
    return InstagramPublisher(
        session=session,
        api_url=settings.api_url,
        access_token=reveal(settings.access_token),
        user_id=settings.user_id or "",
    )


PLATFORM = PlatformSpec(
    slug="instagram",
    name=InstagramSettings.platform_name,
    limit=2200,
    rule="characters",
    max_hashtags=30,
    needs_image=True,
    settings=InstagramSettings,
    build_publisher=build_publisher,
)
