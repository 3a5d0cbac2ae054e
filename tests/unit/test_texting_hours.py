"""Texting hours in the contact's local time (shared/domain/texting_hours.py), on an injected
instant: zones apart, daylight saving and the zones without it, a number spanning zones, the closing
margin, and when the next ones open."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.domain.texting_hours import (
    CampaignHours,
    Hours,
    closes_at,
    is_open,
    next_opening,
    zones_to_check,
)

NINE_TO_NINE = Hours(9, 21)
DC, HONOLULU, PHOENIX, DENVER = (
    "America/New_York", "Pacific/Honolulu", "America/Phoenix", "America/Denver"
)  # fmt: skip
BOISE_AND_LA = ("America/Boise", "America/Los_Angeles")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_the_east_coast_morning_is_honolulus_night() -> None:
    morning = utc(2026, 11, 30, 15, 0)  # 10:00 in Washington, 05:00 in Honolulu
    assert is_open(morning, [DC], NINE_TO_NINE)
    assert not is_open(morning, [HONOLULU], NINE_TO_NINE)
    opening = next_opening(morning, [HONOLULU], NINE_TO_NINE)
    assert opening is not None
    assert (opening.at, opening.zone, opening.local_time) == (
        utc(2026, 11, 30, 19, 0), HONOLULU, "09:00"
    )  # fmt: skip


def test_the_day_daylight_saving_starts() -> None:
    """2026-03-08: Denver springs forward and opens an hour earlier in UTC; Phoenix and Honolulu,
    which keep standard time all year, do not move."""
    for day, denver_open in ((7, False), (8, True)):
        at = utc(2026, 3, day, 15, 30)  # Denver 08:30 MST on the 7th, 09:30 MDT on the 8th
        assert is_open(at, [DENVER], NINE_TO_NINE) is denver_open
        assert not is_open(at, [PHOENIX], NINE_TO_NINE)  # 08:30 MST both days
    assert is_open(utc(2026, 3, 8, 16, 0), [PHOENIX], NINE_TO_NINE)  # 09:00 MST
    assert not is_open(utc(2026, 3, 8, 18, 59), [HONOLULU], NINE_TO_NINE)
    assert is_open(utc(2026, 3, 8, 19, 0), [HONOLULU], NINE_TO_NINE)
    # The evening of the change: Denver closes at 21:00 MDT = 03:00 UTC, an hour earlier.
    assert not is_open(utc(2026, 3, 9, 3, 0), [DENVER], NINE_TO_NINE)
    assert is_open(utc(2026, 3, 8, 3, 59), [DENVER], NINE_TO_NINE)  # the 7th, 20:59 MST


def test_the_day_daylight_saving_ends() -> None:
    # 2026-11-01, Washington falls back: 09:00 is 13:00 UTC the day before, 14:00 UTC on it.
    assert is_open(utc(2026, 10, 31, 13, 0), [DC], NINE_TO_NINE)
    assert not is_open(utc(2026, 11, 1, 13, 30), [DC], NINE_TO_NINE)
    opening = next_opening(utc(2026, 11, 1, 13, 30), [DC], NINE_TO_NINE)
    assert opening is not None and opening.at == utc(2026, 11, 1, 14, 0)


def test_a_number_spanning_zones_is_open_only_while_all_are() -> None:
    # 08:30 in Los Angeles, 09:30 in Boise: Boise is open, the number is not.
    at = utc(2026, 11, 30, 16, 30)
    assert is_open(at, ["America/Boise"], NINE_TO_NINE)
    assert not is_open(at, zones_to_check(BOISE_AND_LA, None), NINE_TO_NINE)
    opening = next_opening(at, zones_to_check(BOISE_AND_LA, None), NINE_TO_NINE)
    assert opening is not None
    assert (opening.at, opening.zone, opening.local_time) == (
        utc(2026, 11, 30, 17, 0), "America/Los_Angeles", "09:00"
    )  # fmt: skip
    # It closes with the first of them: 21:00 in Boise.
    assert not is_open(utc(2026, 12, 1, 4, 0), zones_to_check(BOISE_AND_LA, None), NINE_TO_NINE)
    # A campaign's fallback zone decides instead.
    assert zones_to_check(BOISE_AND_LA, "America/Boise") == ("America/Boise",)
    assert CampaignHours(NINE_TO_NINE, "America/Boise").handed_out(at, BOISE_AND_LA)
    # A single zone is the contact's own, fallback or not; nothing known is the fallback, else
    # New York.
    assert zones_to_check([HONOLULU], DC) == (HONOLULU,)
    assert zones_to_check([], None) == (DC,)
    assert zones_to_check([], HONOLULU) == (HONOLULU,)


def test_zones_whose_hours_never_meet_never_open_without_a_fallback() -> None:
    # 09:00-12:00 in Guam is 23:00-02:00 UTC; in Honolulu, 19:00-22:00 UTC.
    apart = ["Pacific/Guam", HONOLULU]
    assert next_opening(utc(2026, 11, 30, 15, 0), apart, Hours(9, 12)) is None
    assert next_opening(utc(2026, 11, 30, 15, 0), apart, NINE_TO_NINE) == next_opening(
        utc(2026, 11, 30, 15, 0), ["Pacific/Guam"], NINE_TO_NINE
    )  # 09:00 in Guam is 13:00 in Honolulu


def test_the_margin_before_closing() -> None:
    hours = Hours(9, 21, margin_minutes=30)
    campaign = CampaignHours(hours)
    # Washington 20:29: still handed out; 20:30 on: not handed out, still sendable until 21:00.
    assert campaign.handed_out(utc(2026, 12, 1, 1, 29), [DC])
    assert not campaign.handed_out(utc(2026, 12, 1, 1, 30), [DC])
    assert campaign.sendable(utc(2026, 12, 1, 1, 59), [DC])
    assert not campaign.sendable(utc(2026, 12, 1, 2, 0), [DC])
    assert closes_at(utc(2026, 11, 30, 15, 0), [DC], hours) == utc(2026, 12, 1, 1, 30)
    # Midnight to midnight never closes: no margin applies.
    assert CampaignHours(Hours(0, 24, 30)).handed_out(utc(2026, 12, 1, 4, 45), [DC])


def test_open_groups_come_closing_soonest_first() -> None:
    campaign = CampaignHours(NINE_TO_NINE)
    at = utc(2026, 11, 30, 20, 0)  # 15:00 Washington, 13:00 Denver, 10:00 Honolulu
    groups = {1: [HONOLULU], 2: [DC], 3: [DENVER], 4: list(BOISE_AND_LA)}
    assert campaign.open_groups(at, groups) == [2, 3, 4, 1]
    assert campaign.open_groups(utc(2026, 11, 30, 15, 0), groups) == [2]
    opening = campaign.next_opening(utc(2026, 11, 30, 15, 0), [[HONOLULU], [DENVER]])
    assert opening is not None and opening.zone == DENVER and opening.local_time == "09:00"
