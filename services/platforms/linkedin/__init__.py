"""LinkedIn: the Posts API with a member or organization token; plain character count."""

from __future__ import annotations

import re
from typing import ClassVar

import aiohttp
from pydantic import Field, SecretStr, field_validator

from services.platforms.base import ApiUrl, PlatformSettings, PlatformSpec, reveal
from services.platforms.linkedin.publisher import LinkedInPublisher

# LinkedIn versions are monthly and supported for about a year; keep this a recent month.
DEFAULT_VERSION = "202610"


class LinkedInSettings(PlatformSettings):
    """LINKEDIN_*: the token and the member or organization it posts as."""

    platform_name: ClassVar[str] = "LinkedIn"
    env_prefix: ClassVar[str] = "LINKEDIN_"
    credentials: ClassVar[tuple[str, ...]] = ("access_token", "author_urn")

    access_token: SecretStr | None = Field(None, validation_alias="LINKEDIN_ACCESS_TOKEN")
    author_urn: str | None = Field(None, validation_alias="LINKEDIN_AUTHOR_URN")
    api_url: ApiUrl = Field("https://api.linkedin.com", validation_alias="LINKEDIN_API_URL")
    version: str = Field(DEFAULT_VERSION, validation_alias="LINKEDIN_VERSION")

    @field_validator("version")
    @classmethod
    def _yyyymm(cls, value: str) -> str:
        if not re.fullmatch(r"20\d\d(0[1-9]|1[0-2])", value.strip()):
            raise ValueError(f"must be a YYYYMM version such as 202610, got {value!r}")
        return value.strip()


def build_publisher(
    settings: LinkedInSettings, session: aiohttp.ClientSession
) -> LinkedInPublisher:
    """The LinkedIn publisher for the configured author."""
    return LinkedInPublisher(
        session=session,
        api_url=settings.api_url,
        access_token=reveal(settings.access_token),
        author_urn=settings.author_urn or "",
        version=settings.version,
    )


PLATFORM = PlatformSpec(
    slug="linkedin",
    name=LinkedInSettings.platform_name,
    limit=3000,
    rule="characters",
    settings=LinkedInSettings,
    build_publisher=build_publisher,
)
