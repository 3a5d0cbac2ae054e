"""Where the next initials claim of a campaign should start scanning.

Claimed rows leave dead entries at the front of the pool index until vacuum, so a claim that
always scans from the lowest id slows down as a campaign drains (Spoke's claims went from 30 ms
to 65 ms). Conversations are handed out in id order, so this process remembers the highest id
it handed out per campaign and starts the next scan there. It is only a hint: when a scan from
the cursor comes back short, the caller rescans from the campaign's pool floor (pool_floor.py),
which picks up conversations that were returned to the pool below the cursor (unassigned,
released, or another replica's leftovers).
"""

from __future__ import annotations


class ClaimCursor:
    def __init__(self) -> None:
        self._after: dict[int, int] = {}

    def start(self, campaign_id: int) -> int:
        return self._after.get(campaign_id, 0)

    def advance(self, campaign_id: int, claimed_ids: list[int]) -> None:
        if claimed_ids:
            self._after[campaign_id] = max(self._after.get(campaign_id, 0), claimed_ids[-1])

    def reset(self, campaign_id: int) -> None:
        self._after.pop(campaign_id, None)
