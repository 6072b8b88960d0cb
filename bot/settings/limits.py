"""Rate limits on drafting: per Slack user and for the whole workspace."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from bot.settings.base import AreaSettings


class RateLimit(BaseModel, frozen=True):
    """A token bucket: `capacity` tokens, refilled completely over `per_seconds`."""

    capacity: int
    per_seconds: float

    @classmethod
    def parse(cls, value: str) -> RateLimit:
        """Read `capacity/seconds`, e.g. `5/60`."""
        capacity, sep, seconds = value.strip().partition("/")
        try:
            limit = cls(capacity=int(capacity), per_seconds=float(seconds))
        except ValueError:
            limit = None
        if not sep or limit is None or limit.capacity < 1 or limit.per_seconds <= 0:
            raise ValueError(f"expected capacity/seconds such as 5/60, got {value!r}")
        return limit

    def __str__(self) -> str:
        return f"{self.capacity}/{self.per_seconds:g}"


class LimitSettings(AreaSettings):
    """SOCIALPOST_RATE_LIMIT, SOCIALPOST_WORKSPACE_RATE_LIMIT."""

    rate_limit: RateLimit = Field(
        RateLimit(capacity=5, per_seconds=60), validation_alias="SOCIALPOST_RATE_LIMIT"
    )
    workspace_rate_limit: RateLimit = Field(
        RateLimit(capacity=100, per_seconds=3600),
        validation_alias="SOCIALPOST_WORKSPACE_RATE_LIMIT",
    )

    @field_validator("rate_limit", "workspace_rate_limit", mode="before")
    @classmethod
    def _rate_limit(cls, value: object) -> object:
        return RateLimit.parse(value) if isinstance(value, str) else value
