"""Pure rules about time: what the scheduling jobs and forms decide, without any I/O.

Every moment is an aware UTC `datetime`; durations are `timedelta`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

MAX_AHEAD = timedelta(days=366)
"""The furthest ahead a post may be scheduled: a year (and a day, for the same date next
year). Further is almost always a slip of the date picker."""

ON_TIME_TOLERANCE = timedelta(seconds=10)
"""How late a scheduled publish may start and still count as on time. A running bot starts it
within about 2 seconds; anything later means it was down (or its jobs were stuck)."""


class PostAtProblem(StrEnum):
    """Why a chosen "Post at" time can't be used."""

    MISSING = "missing"
    PAST = "past"
    TOO_FAR = "too_far"


def check_post_at(post_at: datetime | None, now: datetime) -> PostAtProblem | None:
    """Whether `post_at` can be a post's time: given, in the future, and within `MAX_AHEAD`.

    A time equal to `now` has passed by the time anything could be published at it.
    """
    if post_at is None:
        return PostAtProblem.MISSING
    if post_at <= now:
        return PostAtProblem.PAST
    if post_at - now > MAX_AHEAD:
        return PostAtProblem.TOO_FAR
    return None


def approval_time(requested_for: datetime | None, now: datetime) -> datetime | None:
    """When Approve & post publishes a post whose requester asked for `requested_for`: at
    that time while it is ahead (None: at once, also once it has passed)."""
    if requested_for is not None and requested_for > now:
        return requested_for
    return None


class Punctuality(StrEnum):
    """How a scheduled post's publish starts, compared with its time."""

    ON_TIME = "on_time"
    LATE = "late"  # after downtime, within SOCIALPOST_SCHEDULE_GRACE: published, and says so
    MISSED = "missed"  # later than the grace: not published; the card offers Retry and Discard


def punctuality(
    scheduled_for: datetime,
    now: datetime,
    grace: timedelta,
    tolerance: timedelta = ON_TIME_TOLERANCE,
) -> Punctuality:
    """What happens to a scheduled post whose publish starts at `now`.

    Within `tolerance` of its time (or before it) it is on time, whatever the grace (a grace
    of 0 doesn't make a running bot miss posts by a second); later than that it is late while
    within `grace`, and missed beyond it.
    """
    lateness = now - scheduled_for
    if lateness <= tolerance:
        return Punctuality.ON_TIME
    if lateness <= grace:
        return Punctuality.LATE
    return Punctuality.MISSED


@dataclass(frozen=True)
class Deadlines:
    """When a pending draft gets its reminder and when it expires (None: never)."""

    remind_at: datetime | None
    expire_at: datetime | None


def deadlines(
    awaiting_since: datetime, reminder: timedelta | None, ttl: timedelta | None
) -> Deadlines:
    """The deadlines of a draft pending since `awaiting_since`.

    No reminder when it would come at or after the expiry: the expiry says more.
    """
    expire_at = awaiting_since + ttl if ttl else None
    remind_at = awaiting_since + reminder if reminder else None
    if remind_at is not None and expire_at is not None and remind_at >= expire_at:
        remind_at = None
    return Deadlines(remind_at, expire_at)
