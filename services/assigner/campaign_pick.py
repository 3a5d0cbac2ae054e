"""Request Conversations without naming a campaign (issue #33, Spoke Rewired's "more texts"
with team priorities): the campaign is picked for the texter.

One statement reads every campaign the texter may be handed a batch of that kind from (their
teams' campaigns, and those they text on), highest team priority first, then the oldest, each
with the zone groups whose pool holds something, from the campaign tallies (never counting
rows). The first of them with a pooled zone group open now is picked: a look at each
candidate's texting hours in memory, not a claim per campaign. The texter is enrolled there
(self_assign.py: once their request level lets the claim happen, so a request waiting for
approval enrolls nobody until it is approved) and the claim is the named request's, so 1,000
texters asking at once wait on nothing a named request does not. A pool drained between the
pick and the claim answers as the claim does (`no_more_conversations`) once the claim found it
empty after another pick passing it over found nothing either: one more pick and claim at most,
never a claim per campaign.
"""

from __future__ import annotations

import asyncpg

from services.assigner import campaign_pick_queries as q
from services.assigner.empty_pool import none_textable_now
from services.assigner.zone_groups import ZoneGroups
from shared.clock import Clock
from shared.database import Connection
from shared.error_codes import ErrorCode
from shared.errors import BatonError
from shared.texting_hours import CampaignHours, Hours, Opening

POOL = {"initials": "not_started", "replies": "needs_reply"}


class CampaignPick:
    def __init__(self, pool: asyncpg.Pool, clock: Clock) -> None:
        self._pool = pool
        self._clock = clock
        self._zone_groups = ZoneGroups()

    async def pick(
        self, texter_id: int, kind: str, passed_over: frozenset[int] = frozenset()
    ) -> int:
        """The campaign picked for `texter_id` (none of `passed_over`), or the refusal raised.
        They are not enrolled on it here: `enroll` does that, when their batch is claimed."""
        now = self._clock()
        openings: list[Opening | None] = []
        async with self._pool.acquire() as conn:
            rows = await q.candidate_campaigns(
                conn, texter_id=texter_id, kind=kind, pool_counted=POOL[kind]
            )
            for row in rows:
                if not row.pooled_groups or row.id in passed_over:
                    continue
                hours = _hours(row)
                zones = await self._zone_groups.zones(conn, row.pooled_groups)
                if hours.open_groups(now, zones):
                    return row.id
                openings.append(hours.next_opening(now, zones.values()))
        if openings:
            known = [o for o in openings if o is not None]
            raise none_textable_now(min(known, key=lambda o: o.at) if known else None)
        raise BatonError(
            ErrorCode.NO_MORE_CONVERSATIONS, "None of your campaigns has conversations to hand out"
        )


async def enroll(conn: Connection, campaign_id: int, texter_id: int) -> None:
    """The texter on a campaign picked for them, now that their batch is claimed: only through
    one of the campaign's teams they are in, and never one they were taken off since."""
    await q.enroll(conn, campaign_id=campaign_id, texter_id=texter_id)


def _hours(row: q.CandidateCampaignsRow) -> CampaignHours:
    return CampaignHours(
        Hours(row.texting_hours_start, row.texting_hours_end, row.closing_margin_minutes),
        row.fallback_zone,
    )
