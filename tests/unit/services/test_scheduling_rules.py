"""Scheduling rules: acceptable times, on time / late / missed, reminder and expiry times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.scheduling.rules import (
    MAX_AHEAD,
    ON_TIME_TOLERANCE,
    PostAtProblem,
    Punctuality,
    approval_time,
    check_post_at,
    deadlines,
    punctuality,
)

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
spans = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))
offsets = st.timedeltas(min_value=-timedelta(days=400), max_value=timedelta(days=400))


def test_a_time_in_the_future_is_accepted() -> None:
    """A minute from now, and a year from now, can be a post's time."""
    assert check_post_at(NOW + timedelta(minutes=1), NOW) is None
    assert check_post_at(NOW + MAX_AHEAD, NOW) is None


def test_now_and_the_past_are_refused_as_past() -> None:
    """The present moment has passed by the time anything could be published at it."""
    assert check_post_at(NOW, NOW) == PostAtProblem.PAST
    assert check_post_at(NOW - timedelta(seconds=1), NOW) == PostAtProblem.PAST


def test_no_time_and_a_far_time_are_refused() -> None:
    """No chosen time is missing; more than a year ahead is too far."""
    assert check_post_at(None, NOW) == PostAtProblem.MISSING
    assert check_post_at(NOW + MAX_AHEAD + timedelta(seconds=1), NOW) == PostAtProblem.TOO_FAR


@given(now=moments, offset=offsets)
def test_a_time_is_accepted_exactly_when_ahead_and_within_a_year(
    now: datetime, offset: timedelta
) -> None:
    """Whatever the moment, a time is usable iff it is after now and at most MAX_AHEAD on."""
    accepted = check_post_at(now + offset, now) is None
    assert accepted == (timedelta(0) < offset <= MAX_AHEAD)


@given(now=moments, offset=offsets)
def test_approve_schedules_for_a_requested_time_only_while_it_is_ahead(
    now: datetime, offset: timedelta
) -> None:
    """Approve on a "Requested for" card waits for that time, or publishes at once once past."""
    requested = now + offset
    assert approval_time(requested, now) == (requested if offset > timedelta(0) else None)
    assert approval_time(None, now) is None


def test_a_running_bot_is_on_time_and_downtime_is_late_or_missed() -> None:
    """Seconds late is on time; within the grace is late; past the grace is missed."""
    grace = timedelta(hours=1)
    at = NOW
    assert punctuality(at, at + timedelta(seconds=2), grace) == Punctuality.ON_TIME
    assert punctuality(at, at - timedelta(seconds=5), grace) == Punctuality.ON_TIME
    assert punctuality(at, at + timedelta(minutes=20), grace) == Punctuality.LATE
    assert punctuality(at, at + grace, grace) == Punctuality.LATE
    assert punctuality(at, at + grace + timedelta(seconds=1), grace) == Punctuality.MISSED


def test_a_zero_grace_never_misses_a_post_the_running_bot_starts_on_time() -> None:
    """With SOCIALPOST_SCHEDULE_GRACE=0, a publish within the tolerance still goes out."""
    assert punctuality(NOW, NOW + ON_TIME_TOLERANCE, timedelta(0)) == Punctuality.ON_TIME
    missed = punctuality(NOW, NOW + ON_TIME_TOLERANCE + timedelta(seconds=1), timedelta(0))
    assert missed == Punctuality.MISSED


@given(scheduled=moments, lateness=offsets, grace=spans)
def test_punctuality_only_gets_worse_with_lateness(
    scheduled: datetime, lateness: timedelta, grace: timedelta
) -> None:
    """Starting later never turns missed into late or late into on time, and a post within
    the grace is never missed."""
    order = [Punctuality.ON_TIME, Punctuality.LATE, Punctuality.MISSED]
    now = scheduled + lateness
    found = punctuality(scheduled, now, grace)
    later = punctuality(scheduled, now + timedelta(seconds=1), grace)
    assert order.index(later) >= order.index(found)
    if lateness <= max(grace, ON_TIME_TOLERANCE):
        assert found != Punctuality.MISSED
    else:
        assert found == Punctuality.MISSED


def test_deadlines_follow_the_settings() -> None:
    """A day's reminder and a week's TTL count from when the draft started waiting."""
    found = deadlines(NOW, timedelta(days=1), timedelta(days=7))
    assert found.remind_at == NOW + timedelta(days=1)
    assert found.expire_at == NOW + timedelta(days=7)


def test_off_settings_give_no_deadline() -> None:
    """A reminder or TTL that is off (None) gives no time."""
    found = deadlines(NOW, None, None)
    assert (found.remind_at, found.expire_at) == (None, None)


@given(since=moments, reminder=st.none() | spans, ttl=st.none() | spans)
def test_a_reminder_never_comes_at_or_after_the_expiry(
    since: datetime, reminder: timedelta | None, ttl: timedelta | None
) -> None:
    """Whatever the settings, a reminder, when there is one, comes before the expiry."""
    found = deadlines(since, reminder, ttl)
    if found.remind_at is not None and found.expire_at is not None:
        assert found.remind_at < found.expire_at
    if found.remind_at is not None:
        assert found.remind_at > since
    assert (found.expire_at is None) == (not ttl)
