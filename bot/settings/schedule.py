"""Time on the card: how late a scheduled post may still go out, approval reminders, expiry."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from bot.settings.base import AreaSettings


class ScheduleSettings(AreaSettings):
    """SOCIALPOST_SCHEDULE_GRACE, SOCIALPOST_APPROVAL_REMINDER, SOCIALPOST_APPROVAL_TTL.

    All in seconds. A reminder or TTL of `0` turns it off.
    """

    schedule_grace: float = Field(3600.0, ge=0, validation_alias="SOCIALPOST_SCHEDULE_GRACE")
    approval_reminder: float = Field(86400.0, ge=0, validation_alias="SOCIALPOST_APPROVAL_REMINDER")
    approval_ttl: float = Field(604800.0, ge=0, validation_alias="SOCIALPOST_APPROVAL_TTL")

    @property
    def grace(self) -> timedelta:
        """How late a scheduled post may be published after downtime."""
        return timedelta(seconds=self.schedule_grace)

    @property
    def reminder(self) -> timedelta | None:
        """How long a draft waits before its one reminder (None: no reminders)."""
        return timedelta(seconds=self.approval_reminder) if self.approval_reminder else None

    @property
    def ttl(self) -> timedelta | None:
        """How long a draft may wait for a decision before it expires (None: never)."""
        return timedelta(seconds=self.approval_ttl) if self.approval_ttl else None
