"""When ideas are proposed: a 5-field cron expression read in an IANA time zone.

Pure arithmetic, no clock and no I/O: every moment in and out is an aware UTC `datetime`.

croniter walks the expression over *naive wall-clock times* of the zone (plain calendar
arithmetic, where daylight saving doesn't exist); each wall time found is then placed in the
zone by `zoneinfo`, by two explicit rules rather than by whatever a cron walker does across
a transition (the source of most cron DST bugs), and the instants are put back in order:

- A wall time that happens twice (clocks go back) is one firing, at its first occurrence
  (`fold=0`): `30 2 * * *` runs once on that night, not twice.
- A wall time that doesn't happen (clocks go forward) fires as late as the gap is long
  (zoneinfo's `fold=0` reading): `30 2 * * *` runs at 03:30 that night instead of being
  skipped. Two wall times that land on the same instant fire once.

So a daily schedule fires once every day of the year, and firings are strictly increasing.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

CRON_FIELDS = 5
EXAMPLE = "0 9 * * 1-5 (09:00 on weekdays)"
# A wall time is moved by at most one offset change, and offset changes are at most 2 hours
# (the largest in the tz database): one within this of a firing may reorder it.
_NEAR = timedelta(hours=3)
# croniter's get_prev is strict: start just past a firing to find it.
_PAST = timedelta(seconds=1)
# How far `missed` looks back at most: a schedule firing every minute over a long downtime
# must not walk millions of firings to find the latest ones.
_MISSED_MAX = 1000


def parse_zone(name: str) -> ZoneInfo:
    """The IANA time zone `name` (e.g. Europe/Berlin), or `ValueError` saying it is unknown."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not an IANA time zone name (e.g. UTC, Europe/Berlin, America/New_York)"
        ) from None


def _placed(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant (UTC) at which the naive wall time `wall` fires in `zone` (module rules)."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    """The naive wall-clock time in `zone` at the aware `moment`."""
    return moment.astimezone(zone).replace(tzinfo=None, fold=0)


@dataclass(frozen=True)
class IdeaSchedule:
    """A 5-field cron `expression` read in `zone`."""

    expression: str
    zone: ZoneInfo

    @classmethod
    def parse(cls, expression: str, zone: ZoneInfo) -> IdeaSchedule:
        """The schedule, or `ValueError` saying in plain words what is wrong with it."""
        expression = " ".join(expression.split())
        fields = expression.split(" ") if expression else []
        if len(fields) != CRON_FIELDS:
            raise ValueError(
                f"expected 5 cron fields (minute hour day month weekday), got {len(fields)} "
                f"in {expression!r}; e.g. {EXAMPLE}"
            )
        try:
            walker = croniter(expression, datetime(2000, 1, 1))
            walker.get_next(datetime)
        except CroniterBadDateError:  # a date that never comes, such as 31 February
            raise ValueError(f"{expression!r} never fires (no such date)") from None
        except (ValueError, KeyError, TypeError) as exc:  # CroniterBadCronError is a ValueError
            raise ValueError(f"{expression!r} is not a valid cron expression ({exc})") from None
        return cls(expression=expression, zone=zone)

    def _settle(self, moment: datetime) -> timedelta:
        """How far past `moment` a walk must go before no other wall time can be placed on
        the wrong side of it: the size of an offset change within `_NEAR` of it (none, most
        of the time)."""
        before = self.zone.utcoffset(moment.astimezone(self.zone) - _NEAR)
        after = self.zone.utcoffset(moment.astimezone(self.zone) + _NEAR)
        if before is None or after is None:
            return timedelta(0)
        return abs(after - before)

    def _forward(self, after: datetime) -> Iterator[datetime]:
        """Firings strictly after `after` (aware), as UTC instants, in order, each once."""
        walker = croniter(self.expression, _wall(after, self.zone) - self._settle(after))
        held: list[tuple[datetime, datetime]] = []  # (when final, firing), by firing
        yielded = after
        while True:
            placed = _placed(walker.get_next(datetime), self.zone)
            if placed > yielded and all(placed != firing for _, firing in held):
                heapq.heappush(held, (placed, placed + self._settle(placed)))
            while held and held[0][1] <= placed:
                yielded = heapq.heappop(held)[0]
                yield yielded

    def _backward(self, at_or_before: datetime) -> Iterator[datetime]:
        """Firings at or before `at_or_before` (aware), as UTC instants, latest first."""
        start = _wall(at_or_before, self.zone) + self._settle(at_or_before) + _PAST
        walker = croniter(self.expression, start)
        held: list[tuple[float, datetime, datetime]] = []  # a max-heap by firing
        yielded: datetime | None = None
        while True:
            placed = _placed(walker.get_prev(datetime), self.zone)
            fresh = yielded is None or placed < yielded
            if placed <= at_or_before and fresh and all(placed != f for _, f, _ in held):
                final = placed - self._settle(placed)
                heapq.heappush(held, (-placed.timestamp(), placed, final))
            while held and held[0][2] >= placed:
                yielded = heapq.heappop(held)[1]
                yield yielded

    def next_after(self, moment: datetime) -> datetime:
        """The first firing strictly after `moment`."""
        return next(self._forward(moment))

    def latest_at_or_before(self, moment: datetime) -> datetime:
        """The last firing at or before `moment`."""
        return next(self._backward(moment))

    def fires_at(self, moment: datetime) -> bool:
        """Whether `moment` is one of the schedule's firings."""
        return self.latest_at_or_before(moment) == moment

    def missed(self, since: datetime, until: datetime) -> list[datetime]:
        """The firings in (`since`, `until`], oldest first (at most the latest 1000)."""
        found: list[datetime] = []
        for moment in self._backward(until):
            if moment <= since or len(found) == _MISSED_MAX:
                break
            found.append(moment)
        return found[::-1]


def due_at_start(schedule: IdeaSchedule, *, now: datetime, grace: timedelta) -> datetime | None:
    """The ONE firing to run at start-up: the latest at or before `now` if it is at most
    `grace` old (SOCIALPOST_SCHEDULE_GRACE), else None. Older firings missed while no process
    ran are not made up: a day of stale ideas is worth less than today's. Whether it ran
    already is the run records' business (each firing is claimed once, durably)."""
    latest = schedule.latest_at_or_before(now)
    return latest if now - latest <= grace else None


def run_key(scheduled_for: datetime) -> str:
    """The durable name of one firing, the same in every process: `ideas:<UTC ISO time>`."""
    return f"ideas:{scheduled_for.astimezone(UTC).isoformat()}"
