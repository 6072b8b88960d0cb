"""A clock a test moves on by hand: scheduled work then runs without waiting for real time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class MovableClock:
    """Starts at `start` (default: the machine's time) and stands still until moved on
    (`move_to`, `advance`)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        """The clock's time (aware UTC)."""
        return self._now

    def move_to(self, moment: datetime) -> None:
        """Jump to `moment`."""
        self._now = moment

    def advance(self, by: float | timedelta) -> datetime:
        """Move time on by `by` (seconds, or a timedelta); the new time."""
        self._now += by if isinstance(by, timedelta) else timedelta(seconds=by)
        return self._now
