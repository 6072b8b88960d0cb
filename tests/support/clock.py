"""A clock a test moves on by hand: scheduled work runs at once, without waiting."""

from __future__ import annotations

from datetime import datetime, timedelta


class MovableClock:
    """Says it is `now` until told otherwise (`move_to`, `advance`)."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        """The test's current time (aware, UTC)."""
        return self._now

    def move_to(self, moment: datetime) -> None:
        """Jump to `moment`."""
        self._now = moment

    def advance(self, by: timedelta) -> None:
        """Let `by` pass."""
        self._now += by
