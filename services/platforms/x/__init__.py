"""X (Twitter): weighted counting, threads, OAuth 1.0a user context through tweepy.

Everything X-specific lives in this folder: how X counts (`count.py`), the thread splitter
(`thread.py`), the publisher (`publisher.py`), and here its settings and its descriptor.
"""

from __future__ import annotations

from typing import ClassVar

import aiohttp
from pydantic import Field, SecretStr

from services.platforms.base import ApiUrl, PlatformSettings, PlatformSpec, Threads, reveal
from services.platforms.x import count, links, thread
from services.platforms.x.publisher import XPublisher


class XSettings(PlatformSettings):
    """X_*: the app's consumer key and secret and the posting account's access token."""

    platform_name: ClassVar[str] = count.NAME
    env_prefix: ClassVar[str] = "X_"
    credentials: ClassVar[tuple[str, ...]] = (
        "api_key",
        "api_secret",
        "access_token",
        "access_token_secret",
    )

    api_key: SecretStr | None = Field(None, validation_alias="X_API_KEY")
    api_secret: SecretStr | None = Field(None, validation_alias="X_API_SECRET")
    access_token: SecretStr | None = Field(None, validation_alias="X_ACCESS_TOKEN")
    access_token_secret: SecretStr | None = Field(None, validation_alias="X_ACCESS_TOKEN_SECRET")
    api_url: ApiUrl = Field("https://api.x.com", validation_alias="X_API_URL")


def build_publisher(settings: XSettings, session: aiohttp.ClientSession) -> XPublisher:
    """The X publisher, signing with the configured credentials."""
    return XPublisher(
        session=session,
        api_url=settings.api_url,
        consumer_key=reveal(settings.api_key),
        consumer_secret=reveal(settings.api_secret),
        access_token=reveal(settings.access_token),
        access_token_secret=reveal(settings.access_token_secret),
    )


PLATFORM = PlatformSpec(
    slug="x",
    name=count.NAME,
    limit=count.X_LIMIT,
    rule=count.RULE,
    unit="weighted characters",
    counting="as X counts them: links count 23, emoji 2",
    settings=XSettings,
    build_publisher=build_publisher,
    count=count.measure,
    links=links.find_links,
    threads=Threads(
        split=thread.split_thread,
        measure=thread.measure_thread,
        asked_for=thread.asks_for_thread,
    ),
)
