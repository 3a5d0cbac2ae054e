"""Texting hours in the contact's local time (pure logic)."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from shared.phones import zone_for

# When neither the contact nor the number's region names a zone, the strictest US one.
FALLBACK_ZONE = "America/New_York"


def contact_zone(phone: str, timezone: str | None) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(timezone or zone_for(phone) or FALLBACK_ZONE)


def within_hours(now: datetime, zone: zoneinfo.ZoneInfo, start: int, end: int) -> bool:
    """Whether `now` falls in [start, end) hours of the day where the contact is."""
    local = now.astimezone(zone)
    return start <= local.hour < end
