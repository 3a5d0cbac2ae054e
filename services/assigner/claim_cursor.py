"""Where the next initials claim of a campaign should start scanning, per zone group.

Claimed rows leave dead entries at the front of the pool index until vacuum, so a claim that
always scans from the lowest id slows down as a campaign drains (Spoke's claims went from 30 ms
to 65 ms). Inside a zone group conversations are handed out in id order (claims.sql), so this
process remembers the highest id it handed out per campaign and group and starts the group's
next scan there. It is only a hint: when a scan from the cursors comes back short, the caller
rescans those groups from their pool floors (pool_floor.py), which picks up conversations
returned to the pool below a cursor (unassigned, released, returned when hours closed, or
another replica's leftovers).
"""

from __future__ import annotations

from collections.abc import Iterable


class ClaimCursor:
    def __init__(self) -> None:
        self._after: dict[tuple[int, int], int] = {}

    def start(self, campaign_id: int, zone_group: int) -> int:
        return self._after.get((campaign_id, zone_group), 0)

    def advance(self, campaign_id: int, claimed: Iterable[tuple[int, int]]) -> None:
        """`claimed`: (conversation id, zone group) of each conversation just handed out."""
        for conversation_id, zone_group in claimed:
            key = (campaign_id, zone_group)
            if conversation_id > self._after.get(key, 0):
                self._after[key] = conversation_id
