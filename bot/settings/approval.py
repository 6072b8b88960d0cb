"""Approval: where cards go and who may decide."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from bot.settings.base import SLACK_ID, AreaSettings, CommaSeparated

# More sign-offs than a Slack card can list in a line is a typo, not a policy.
MAX_REQUIRED_APPROVALS = 20


class ApprovalSettings(AreaSettings):
    """SOCIALPOST_APPROVAL_CHANNEL, SOCIALPOST_APPROVERS (user IDs, and user groups: the
    entries starting with S), SOCIALPOST_ALLOW_SELF_APPROVAL, SOCIALPOST_REQUIRED_APPROVALS."""

    channel: str = Field(validation_alias="SOCIALPOST_APPROVAL_CHANNEL")
    approvers: Annotated[tuple[str, ...], CommaSeparated] = Field(
        (), validation_alias="SOCIALPOST_APPROVERS"
    )
    allow_self_approval: bool = Field(False, validation_alias="SOCIALPOST_ALLOW_SELF_APPROVAL")
    required_approvals: int = Field(
        1, ge=1, le=MAX_REQUIRED_APPROVALS, validation_alias="SOCIALPOST_REQUIRED_APPROVALS"
    )
    """Distinct approvers needed before a post is published or scheduled (SPEC 7.5)."""

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
            raise ValueError(
                "must be Slack user IDs such as U0123456789 or user group IDs such as "
                f"S0123456789, got {', '.join(bad)}"
            )
        return value
