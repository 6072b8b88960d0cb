"""The ideas schedule: cron in a time zone, across daylight-saving changes, and catch-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ideas.schedule import IdeaSchedule, due_at_start, parse_zone, run_key

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
# Zones with one-hour, half-hour (Lord Howe) and southern-hemisphere changes, and none.
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "Pacific/Chatham",
]


def at(zone: ZoneInfo, *fields: int, fold: int = 0) -> datetime:
    """The UTC instant of a wall time in `zone`."""
    return datetime(*fields, tzinfo=zone, fold=fold).astimezone(UTC)


def walk(schedule: IdeaSchedule, start: datetime, count: int) -> list[datetime]:
    moments = []
    for _ in range(count):
        start = schedule.next_after(start)
        moments.append(start)
    return moments


def test_next_after_is_strictly_after_and_in_the_zone() -> None:
    """09:00 on weekdays in New York: from a Friday noon the next run is Monday 09:00 EST."""
    schedule = IdeaSchedule.parse("0 9 * * 1-5", NEW_YORK)
    friday_noon = at(NEW_YORK, 2026, 1, 9, 12, 0)
    assert schedule.next_after(friday_noon) == at(NEW_YORK, 2026, 1, 12, 9, 0)
    monday_nine = at(NEW_YORK, 2026, 1, 12, 9, 0)
    assert schedule.next_after(monday_nine) == at(NEW_YORK, 2026, 1, 13, 9, 0)
    assert schedule.latest_at_or_before(monday_nine) == monday_nine


def test_spring_forward_a_skipped_wall_time_runs_an_hour_later_once() -> None:
    """In Berlin 02:30 doesn't exist on 29 March 2026: that day's run is at 03:30 CEST, and
    every other day's at 02:30, one per day."""
    schedule = IdeaSchedule.parse("30 2 * * *", BERLIN)
    runs = walk(schedule, at(BERLIN, 2026, 3, 27, 12, 0), 3)
    assert runs == [
        at(BERLIN, 2026, 3, 28, 2, 30),
        at(BERLIN, 2026, 3, 29, 3, 30),
        at(BERLIN, 2026, 3, 30, 2, 30),
    ]
    assert runs[1].astimezone(BERLIN).utcoffset() == timedelta(hours=2)


def test_fall_back_a_doubled_wall_time_runs_once_at_its_first_occurrence() -> None:
    """In New York 01:30 happens twice on 1 November 2026: the run is at the first (EDT)."""
    schedule = IdeaSchedule.parse("30 1 * * *", NEW_YORK)
    runs = walk(schedule, at(NEW_YORK, 2026, 10, 31, 12, 0), 2)
    assert runs == [at(NEW_YORK, 2026, 11, 1, 1, 30, fold=0), at(NEW_YORK, 2026, 11, 2, 1, 30)]
    second_half_thirty = at(NEW_YORK, 2026, 11, 1, 1, 30, fold=1)
    assert not schedule.fires_at(second_half_thirty)


def test_every_half_hour_across_spring_forward_has_no_duplicate_instant() -> None:
    """`*/30` over Berlin's spring-forward night: the skipped wall times land on real ones
    and fire once, in order."""
    schedule = IdeaSchedule.parse("*/30 * * * *", BERLIN)
    found = schedule.missed(at(BERLIN, 2026, 3, 29, 1, 0), at(BERLIN, 2026, 3, 29, 4, 0))
    walls = [moment.astimezone(BERLIN).strftime("%H:%M") for moment in found]
    assert walls == ["01:30", "03:00", "03:30", "04:00"]


@pytest.mark.parametrize("zone_name", ZONES)
def test_a_daily_schedule_fires_once_on_every_day_of_a_year(zone_name: str) -> None:
    """Whatever the zone's changes, `30 2 * * *` fires exactly once per local calendar day."""
    zone = ZoneInfo(zone_name)
    schedule = IdeaSchedule.parse("30 2 * * *", zone)
    runs = walk(schedule, at(zone, 2025, 12, 31, 12, 0), 365)
    days = [moment.astimezone(zone).date() for moment in runs]
    assert days == [datetime(2026, 1, 1).date() + timedelta(days=n) for n in range(365)]


def test_leap_day_and_last_of_month_expressions() -> None:
    """29 February fires only in leap years; day 31 skips months without one."""
    leap = IdeaSchedule.parse("0 12 29 2 *", ZoneInfo("UTC"))
    assert walk(leap, datetime(2026, 1, 1, tzinfo=UTC), 2) == [
        datetime(2028, 2, 29, 12, tzinfo=UTC),
        datetime(2032, 2, 29, 12, tzinfo=UTC),
    ]
    thirty_first = IdeaSchedule.parse("0 0 31 * *", ZoneInfo("UTC"))
    months = [m.month for m in walk(thirty_first, datetime(2026, 1, 1, tzinfo=UTC), 7)]
    assert months == [1, 3, 5, 7, 8, 10, 12]


def test_day_of_month_or_day_of_week_like_cron() -> None:
    """Both day fields restricted: either matching fires (Vixie cron's rule, croniter's)."""
    schedule = IdeaSchedule.parse("0 8 1 * 1", ZoneInfo("UTC"))
    runs = walk(schedule, datetime(2026, 5, 30, tzinfo=UTC), 3)
    assert [r.date().isoformat() for r in runs] == ["2026-06-01", "2026-06-08", "2026-06-15"]


def test_a_missed_run_within_grace_runs_once_at_start_up() -> None:
    """After a downtime, only the latest missed firing runs, and only when it is at most the
    grace old; a firing exactly the grace old still runs."""
    schedule = IdeaSchedule.parse("0 * * * *", ZoneInfo("UTC"))
    grace = timedelta(hours=1)
    now = datetime(2026, 6, 1, 10, 20, tzinfo=UTC)
    assert due_at_start(schedule, now=now, grace=grace) == datetime(2026, 6, 1, 10, tzinfo=UTC)
    assert due_at_start(schedule, now=now, grace=timedelta(minutes=19)) is None
    exactly = datetime(2026, 6, 1, 11, 0, tzinfo=UTC)
    assert due_at_start(schedule, now=exactly, grace=grace) == exactly
    daily = IdeaSchedule.parse("0 9 * * *", ZoneInfo("UTC"))
    late = datetime(2026, 6, 3, 9, 30, tzinfo=UTC)
    assert daily.missed(datetime(2026, 6, 1, 8, tzinfo=UTC), late) == [
        datetime(2026, 6, d, 9, tzinfo=UTC) for d in (1, 2, 3)
    ]
    assert due_at_start(daily, now=late, grace=grace) == datetime(2026, 6, 3, 9, tzinfo=UTC)


def test_the_run_key_names_the_instant_not_its_spelling() -> None:
    """One firing has one key whatever zone its datetime is written in."""
    moment = at(BERLIN, 2026, 3, 29, 3, 30)
    assert (
        run_key(moment) == run_key(moment.astimezone(BERLIN)) == ("ideas:2026-03-29T01:30:00+00:00")
    )


def test_unknown_zone_names_are_refused_in_words() -> None:
    """A zone zoneinfo doesn't know is a ValueError naming it, with examples."""
    with pytest.raises(ValueError, match="'Europe/Atlantis' is not an IANA time zone name"):
        parse_zone("Europe/Atlantis")
    with pytest.raises(ValueError, match="not an IANA"):
        parse_zone("../etc/passwd")
    assert parse_zone(" Asia/Tokyo ").key == "Asia/Tokyo"


def _field(low: int, high: int) -> st.SearchStrategy[str]:
    values = st.lists(st.integers(low, high), min_size=1, max_size=3, unique=True)
    return st.one_of(
        st.just("*"),
        values.map(lambda vs: ",".join(map(str, sorted(vs)))),
        st.integers(2, 20).map(lambda step: f"*/{step}"),
    )


expressions = st.tuples(_field(0, 59), _field(0, 23), st.just("*"), st.just("*"), _field(0, 6)).map(
    " ".join
)
moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


def transitions(zone_name: str) -> list[datetime]:
    """The instants in 2026 at which `zone_name`'s UTC offset changes (to the quarter hour)."""
    zone = ZoneInfo(zone_name)
    found = []
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    step = timedelta(minutes=15)
    while moment.year == 2026:
        if zone.utcoffset(moment) != zone.utcoffset(moment + step):
            found.append(moment + step)
        moment += step
    return found


TRANSITIONS = [(name, when) for name in ZONES for when in transitions(name)]
near_transitions = st.tuples(
    st.sampled_from(TRANSITIONS), st.integers(-6 * 60, 6 * 60).map(lambda m: timedelta(minutes=m))
).map(lambda pair: (pair[0][0], pair[0][1] + pair[1]))


def check_walks_agree(expression: str, zone_name: str, start: datetime) -> None:
    schedule = IdeaSchedule.parse(expression, ZoneInfo(zone_name))
    following = walk(schedule, start, 4)
    assert following == sorted(set(following))
    assert following[0] > start
    assert schedule.fires_at(following[0])
    assert schedule.latest_at_or_before(following[0] - timedelta(microseconds=1)) <= start
    assert schedule.missed(start, following[-1]) == following


@settings(max_examples=150, deadline=None)
@given(expression=expressions, zone_name=st.sampled_from(ZONES), start=moments)
def test_forward_and_backward_agree_on_every_firing(
    expression: str, zone_name: str, start: datetime
) -> None:
    """For any expression, zone and moment: the next firing is strictly later, is a firing,
    nothing fires in between, and walking back from it finds the same firings."""
    check_walks_agree(expression, zone_name, start)


@settings(max_examples=300, deadline=None)
@given(expression=expressions, near=near_transitions)
def test_forward_and_backward_agree_around_daylight_saving_changes(
    expression: str, near: tuple[str, datetime]
) -> None:
    """The same agreement for moments within 6 hours of one of the zones' offset changes in
    2026 (where wall times are skipped or doubled)."""
    zone_name, start = near
    check_walks_agree(expression, zone_name, start)


@settings(max_examples=100, deadline=None)
@given(
    expression=expressions,
    zone_name=st.sampled_from(ZONES),
    now=moments,
    grace=st.integers(0, 7200).map(lambda s: timedelta(seconds=s)),
)
def test_start_up_runs_at_most_the_latest_firing_within_grace(
    expression: str, zone_name: str, now: datetime, grace: timedelta
) -> None:
    """The start-up firing, when there is one, is the latest at or before now and at most
    grace old; when there is none, the latest firing is older than the grace."""
    schedule = IdeaSchedule.parse(expression, ZoneInfo(zone_name))
    due = due_at_start(schedule, now=now, grace=grace)
    latest = schedule.latest_at_or_before(now)
    if due is None:
        assert now - latest > grace
    else:
        assert due == latest and now - due <= grace
