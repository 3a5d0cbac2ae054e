"""The zones of each zone group (migration 0006), read once per process.

A zone_group row never changes: an id means the same zones forever. So a claim needs only the
campaign's group ids (which come with the campaign, claims.sql `campaign_and_texter_locks`), and the
zones of a group are read from Postgres the first time this process meets it, not per request.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.assigner import claims_queries
from shared.database import Connection


class ZoneGroups:
    def __init__(self) -> None:
        self._zones: dict[int, tuple[str, ...]] = {}

    async def zones(self, conn: Connection, groups: Sequence[int]) -> dict[int, tuple[str, ...]]:
        """Group id -> its zones, for each of `groups`."""
        missing = [g for g in groups if g not in self._zones]
        if missing:
            for row in await claims_queries.zone_group_zones(conn, zone_groups=missing):
                self._zones[row.id] = tuple(row.zones)
        return {g: self._zones[g] for g in groups}
