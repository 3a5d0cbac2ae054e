"""Times as Baton answers them: RFC 3339 in UTC, `Z` for the zone (ThruText's account-level
exports are in UTC too)."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(moment: datetime) -> str:
    """`2026-12-07T03:28:26.123456Z`: an aware time, in UTC."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
