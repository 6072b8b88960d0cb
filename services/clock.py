"""The time the domain goes by: one `Clock`, injected, so a test can move time on at will.

Every moment above storage is an aware `datetime` in UTC. The worker, the lifecycle's
timestamps (`approved_at`), the jobs' due times and storage's row stamps all read the same
clock; a test gives them a clock it advances (scheduled work then runs without waiting).
Durations measured on this machine alone (a timeout, a debounce) stay on the event loop's
monotonic clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Says what time it is."""

    def now(self) -> datetime:
        """The current time, aware and in UTC."""


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        """The machine's current time, in UTC."""
        return datetime.now(UTC)
