"""Ideas on a schedule (SPEC section 7.6): when the bot proposes posts of its own, and about what.

SOCIALPOST_IDEAS_SCHEDULE is a 5-field cron expression read in SOCIALPOST_TIMEZONE (an IANA
name); unset, the bot proposes nothing by itself (`/socialpost ideas` still works).
SOCIALPOST_IDEAS_TOPICS is the topics text, or a path to a file holding it: `load_topics` reads
that file once, for `load_settings`, as the brand voice's file is read.
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationInfo, field_validator

from bot.settings.base import AnyCase, AreaSettings, CommaSeparated
from bot.settings.llm import brand_voice as text_or_file
from services.ideas.schedule import IdeaSchedule, parse_zone
from services.platforms import PLATFORMS

IDEAS_COUNT_MAX = 10
"""More ideas than this in one run would flood the approval channel (and one LLM answer)."""


class IdeasSettings(AreaSettings):
    """SOCIALPOST_IDEAS_SCHEDULE, SOCIALPOST_TIMEZONE, SOCIALPOST_IDEAS_COUNT,
    SOCIALPOST_IDEAS_PLATFORMS, SOCIALPOST_IDEAS_TOPICS (the grace for a missed time is the
    schedule area's SOCIALPOST_SCHEDULE_GRACE)."""

    # The zone first: the schedule's validator reads it.
    timezone: str = Field("UTC", validation_alias="SOCIALPOST_TIMEZONE")
    schedule_expression: str | None = Field(None, validation_alias="SOCIALPOST_IDEAS_SCHEDULE")
    count: int = Field(3, ge=1, le=IDEAS_COUNT_MAX, validation_alias="SOCIALPOST_IDEAS_COUNT")
    platforms: Annotated[tuple[str, ...], CommaSeparated, AnyCase] = Field(
        ("x",), validation_alias="SOCIALPOST_IDEAS_PLATFORMS"
    )
    topics: str | None = Field(None, validation_alias="SOCIALPOST_IDEAS_TOPICS")
    """The topics text (after `load_topics`: read from the file the setting names)."""

    @field_validator("schedule_expression", "topics")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() if value is not None and value.strip() else None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return parse_zone(value).key

    @field_validator("platforms", mode="before")
    @classmethod
    def _lowercase_each(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return tuple(str(item).strip().lower() for item in value)
        return value

    @field_validator("platforms")
    @classmethod
    def _registered_platforms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must name at least one platform, e.g. x")
        unknown = [slug for slug in value if slug not in PLATFORMS]
        if unknown:
            known = ", ".join(PLATFORMS)
            raise ValueError(f"unknown platform {', '.join(unknown)} (known: {known})")
        needing_image = [PLATFORMS[slug].name for slug in value if PLATFORMS[slug].needs_image]
        if needing_image:
            raise ValueError(
                f"{', '.join(needing_image)} posts need an image, which ideas don't have; "
                "leave it out of the ideas platforms"
            )
        return tuple(dict.fromkeys(value))

    @field_validator("schedule_expression")
    @classmethod
    def _valid_cron(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            # A malformed zone is reported on its own; the expression is still checked.
            IdeaSchedule.parse(value, parse_zone(info.data.get("timezone", "UTC")))
        return value

    @property
    def zone(self) -> ZoneInfo:
        """SOCIALPOST_TIMEZONE as a time zone."""
        return parse_zone(self.timezone)

    @property
    def schedule(self) -> IdeaSchedule | None:
        """When ideas are proposed, or None when SOCIALPOST_IDEAS_SCHEDULE is unset."""
        if self.schedule_expression is None:
            return None
        return IdeaSchedule.parse(self.schedule_expression, self.zone)


def load_topics(ideas: IdeasSettings) -> IdeasSettings:
    """`ideas` with its topics read from the file SOCIALPOST_IDEAS_TOPICS names, if it names
    one (else the text itself)."""
    return ideas.model_copy(update={"topics": text_or_file(ideas.topics)})
