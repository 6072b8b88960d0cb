"""Approval: where cards go and who may decide."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from bot.settings.base import SLACK_ID, AreaSettings, CommaSeparated


class ApprovalSettings(AreaSettings):
    """SOCIALPOST_APPROVAL_CHANNEL, SOCIALPOST_APPROVERS, SOCIALPOST_ALLOW_SELF_APPROVAL."""

    channel: str = Field(validation_alias="SOCIALPOST_APPROVAL_CHANNEL")
    approvers: Annotated[tuple[str, ...], CommaSeparated] = Field(
        (), validation_alias="SOCIALPOST_APPROVERS"
    )
    allow_self_approval: bool = Field(False, validation_alias="SOCIALPOST_ALLOW_SELF_APPROVAL")

    @field_validator("channel")
    @classmethod
    def _channel_id(cls, value: str) -> str:
        value = value.strip()
        if not SLACK_ID.match(value):
            raise ValueError(
                f"must be a channel ID such as C0123456789 (not a #name), got {value!r}"
            )
        return value

    @field_validator("approvers")
    @classmethod
    def _approver_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [item for item in value if not SLACK_ID.match(item)]
        if bad:
            raise ValueError(f"must be Slack user IDs such as U0123456789, got {', '.join(bad)}")
        return value
