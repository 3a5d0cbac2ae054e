"""When a contact may be texted: texting hours in the contact's local time (pure logic).

The one notion of "open" in Baton. The sender refuses a text outside it; the assigner hands out
only conversations open now with the campaign's closing margin still ahead (so whatever is handed
out can be sent at once); the reaper returns held initials once it is closed; campaign stats
count by it. Every answer is about an instant, so daylight saving, and zones without it
(America/Phoenix, Pacific/Honolulu), come out right from the zone database.

A contact's zones are a zone group's (migration 0006): one zone for most, several when the number
spans zones, none when nothing is known. Several zones are open only while all of them are (the
most conservative reading), unless the campaign names a fallback zone for such numbers.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

# When nothing names a zone (an unknown number, no fallback): the strictest US one.
FALLBACK_ZONE = "America/New_York"
# How far ahead the next opening is looked for; a zone set open on no day of a week (a number
# spanning Guam and Newfoundland, say) never opens without a fallback zone.
LOOKAHEAD_DAYS = 8


@dataclass(frozen=True)
class Hours:
    """[start, end) hours of the contact's local day; `margin_minutes` before the end, nothing
    more is handed out (the sender itself texts until the end)."""

    start: int
    end: int
    margin_minutes: int = 0

    @property
    def all_day(self) -> bool:
        # Midnight to midnight never closes: no closing, so no margin before it.
        return self.start == 0 and self.end == 24

    def without_margin(self) -> Hours:
        return Hours(self.start, self.end)


@dataclass(frozen=True)
class Opening:
    """When a contact set next becomes textable: the instant, and the zone that opens then."""

    at: datetime
    zone: str

    @property
    def local_time(self) -> str:
        return self.at.astimezone(zone_info(self.zone)).strftime("%H:%M")


@functools.cache
def zone_info(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zones_to_check(zones: Sequence[str], fallback_zone: str | None) -> tuple[str, ...]:
    """The zones whose hours apply to a contact of zone set `zones`."""
    if len(zones) == 1:
        return (zones[0],)
    if fallback_zone is not None:
        return (fallback_zone,)
    return tuple(zones) or (FALLBACK_ZONE,)


def _window(now: datetime, zone: str, hours: Hours, days: int = 0) -> tuple[datetime, datetime]:
    """The zone's window on its local day of `now` (+ `days`), as instants: [opens, closes)."""
    tz = zone_info(zone)
    day = now.astimezone(tz).date() + timedelta(days=days)
    margin = timedelta(minutes=hours.margin_minutes)
    return _at(day, hours.start, tz), _at(day, hours.end, tz) - margin


def _at(day: date, hour: int, tz: ZoneInfo) -> datetime:
    """Local `hour`:00 on `day` (24 is the next midnight) as an instant. A wall time skipped by a
    daylight-saving change reads with the offset before it, as zoneinfo does."""
    if hour == 24:
        day, hour = day + timedelta(days=1), 0
    return datetime(day.year, day.month, day.day, hour, tzinfo=tz).astimezone(UTC)


@functools.lru_cache(maxsize=65_536)
def _in_window(minute: datetime, zone: str, hours: Hours) -> tuple[bool, datetime]:
    """(open, when today's window closes) for a zone at a whole UTC minute. Windows open and
    close on whole minutes (zone offsets are whole minutes), so any instant answers as its
    minute does; cached, every claim of that minute asks for the same few zones again."""
    opens, closes = _window(minute, zone, hours)
    return opens <= minute < closes, closes


def _minute(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(second=0, microsecond=0)


def is_open(now: datetime, zones: Sequence[str], hours: Hours) -> bool:
    """Whether every zone of `zones` is inside `hours` at `now` (after zones_to_check)."""
    if hours.all_day:
        return True
    minute = _minute(now)
    return all(_in_window(minute, zone, hours)[0] for zone in zones)


def closes_at(now: datetime, zones: Sequence[str], hours: Hours) -> datetime | None:
    """When the window open at `now` ends (the first zone to close); None if it never does."""
    if hours.all_day:
        return None
    minute = _minute(now)
    return min(_in_window(minute, zone, hours)[1] for zone in zones)


def next_opening(now: datetime, zones: Sequence[str], hours: Hours) -> Opening | None:
    """The first instant from `now` at which `zones` are all open, or None within a week."""
    if is_open(now, zones, hours):
        return Opening(now.astimezone(UTC), zones[0])
    # All zones are open together first at the moment one of them opens, when the others are
    # already open: try each zone's openings in time order.
    candidates = sorted(
        (opens, zone)
        for zone in zones
        for offset in range(LOOKAHEAD_DAYS)
        if (opens := _window(now, zone, hours, offset)[0]) > now
    )
    for at, zone in candidates:
        if is_open(at, zones, hours):
            return Opening(at, zone)
    return None


class HoursColumns(Protocol):
    """A typed row with a campaign's hours (a generated query row: `make queries`)."""

    @property
    def texting_hours_start(self) -> int: ...
    @property
    def texting_hours_end(self) -> int: ...
    @property
    def closing_margin_minutes(self) -> int: ...
    @property
    def fallback_zone(self) -> str | None: ...


@dataclass(frozen=True)
class CampaignHours:
    """A campaign's texting hours, closing margin and fallback zone, applied to zone sets."""

    hours: Hours
    fallback_zone: str | None = None

    @classmethod
    def of_row(cls, row: HoursColumns) -> CampaignHours:
        """From a typed row carrying the campaign's hours columns."""
        return cls(
            Hours(row.texting_hours_start, row.texting_hours_end, row.closing_margin_minutes),
            row.fallback_zone,
        )

    def sendable(self, now: datetime, zones: Sequence[str]) -> bool:
        """The sender's rule: inside the hours, margin or not."""
        return is_open(now, zones_to_check(zones, self.fallback_zone), self.hours.without_margin())

    def handed_out(self, now: datetime, zones: Sequence[str]) -> bool:
        """The assigner's rule: inside the hours with the closing margin still ahead."""
        return is_open(now, zones_to_check(zones, self.fallback_zone), self.hours)

    def open_groups(self, now: datetime, groups: Mapping[int, Sequence[str]]) -> list[int]:
        """The zone groups that may be handed out now, those closing soonest first (their
        contacts have the least time left), then by id."""
        never = datetime.max.replace(tzinfo=UTC)
        open_now = [
            (closes_at(now, zones_to_check(zones, self.fallback_zone), self.hours) or never, group)
            for group, zones in groups.items()
            if self.handed_out(now, zones)
        ]
        return [group for _, group in sorted(open_now)]

    def next_opening(self, now: datetime, zone_sets: Iterable[Sequence[str]]) -> Opening | None:
        """The first time any of `zone_sets` may be handed out, or None within a week."""
        openings = [
            opening
            for zones in zone_sets
            if (opening := next_opening(now, zones_to_check(zones, self.fallback_zone), self.hours))
        ]
        return min(openings, key=lambda o: o.at, default=None)
