"""A clock a test moves on: scheduled work then runs without waiting for real time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class MovableClock:
    """Starts at the machine's time and stands still, until `advance` moves it on."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        """The clock's time (aware UTC)."""
        return self._now

    def advance(self, seconds: float) -> datetime:
        """Move time on by `seconds`; the new time."""
        self._now += timedelta(seconds=seconds)
        return self._now
