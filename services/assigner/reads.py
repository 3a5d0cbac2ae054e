"""Read-only views: campaign statistics and pages of conversations."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import asyncpg

from services.assigner import queries as q
from services.assigner.admin import fetch_campaign, fetch_campaign_as
from services.assigner.conversation_pages import PageFilters, page_of_conversations
from services.assigner.empty_pool import when_open
from shared.contract.access_policy import allows
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError, bad_request, forbidden, not_found
from shared.contract.schemas import query as s
from shared.domain.clock import Clock, utc_now
from shared.domain.texting_hours import CampaignHours, zones_to_check
from shared.runtime.access import Caller

STATUSES = ("not_started", "awaiting_reply", "needs_reply", "replied", "closed")


class Reads:
    def __init__(self, pool: asyncpg.Pool, clock: Clock = utc_now) -> None:
        self._pool = pool
        self._clock = clock

    async def campaign_stats(
        self, request: s.CampaignStatsRequest, caller: Caller
    ) -> s.CampaignStats:
        # One snapshot for the three reads, so that the figures of one answer agree with each
        # other while claims and sends go on (each alone is exact either way).
        async with (
            self._pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            campaign = await fetch_campaign_as(conn, caller, request.campaign_id)
            rows = await q.stats_by_status(conn, campaign_id=request.campaign_id)
            failed = await q.failed_initials(conn, campaign_id=request.campaign_id)
            zones = await q.unassigned_by_zone_group(conn, campaign_id=request.campaign_id)
        by_zone = _by_zone(zones, CampaignHours.of_row(campaign), self._clock())
        by_status = dict.fromkeys(STATUSES, 0)
        unassigned = dict.fromkeys(STATUSES, 0)
        by_assignee: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATUSES, 0))
        for row in rows:
            by_status[row.status] += row.n
            if row.assignee_id is None:
                unassigned[row.status] += row.n
            else:
                by_assignee[str(row.assignee_id)][row.status] += row.n
        return s.CampaignStats(
            campaign_id=request.campaign_id,
            total=sum(by_status.values()),
            by_status=by_status,
            unassigned_by_status=unassigned,
            by_assignee=dict(by_assignee),
            failed_initials=failed,
            unassigned_textable_now=sum(z.textable_now for z in by_zone),
            unassigned_by_zone=by_zone,
        )

    async def conversations(
        self, request: s.ListConversations, caller: Caller
    ) -> s.ConversationPage:
        if request.unassigned and request.assignee_id is not None:
            raise bad_request("give assignee_id or unassigned, not both")
        if request.inbox and request.unassigned:
            raise bad_request("an inbox is one texter's: the caller's, or assignee_id's")
        # An inbox is one texter's: the caller's own, whatever their role, unless a moderator
        # names another texter to see theirs.
        assignee = request.assignee_id
        if request.inbox and assignee is None:
            assignee = caller.user_id
        async with self._pool.acquire() as conn:
            campaign = await fetch_campaign(conn, request.campaign_id)
            hidden = not_found("campaign", request.campaign_id)
            role = await caller.role_in(conn, campaign.org_id, hidden)
            if not allows(role, "moderator"):
                # A texter sees their own conversations, in campaigns they text on: their inbox.
                if request.unassigned or assignee not in (None, caller.user_id):
                    raise forbidden("a texter sees only their own conversations")
                if not await q.is_texter(conn, campaign_id=campaign.id, user_id=caller.user_id):
                    raise BatonError(
                        ErrorCode.NOT_A_MEMBER, "You are not a texter on this campaign"
                    )
                assignee = caller.user_id
            filters = PageFilters(
                campaign_id=request.campaign_id,
                after=request.after,
                limit=request.limit,
                assignee=assignee,
                unassigned=request.unassigned,
                status=request.status,
                inbox=request.inbox,
            )
            page_rows = await page_of_conversations(conn, filters)
        page = [
            s.ConversationRow(
                conversation_id=r.id,
                contact_id=r.contact_id,
                status=r.status,
                assignee_id=r.assignee_id,
                needs_reply_since=r.needs_reply_since.isoformat() if r.needs_reply_since else None,
                first_name=r.first_name,
                last_name=r.last_name,
                phone=r.phone,
            )
            for r in page_rows
        ]
        next_after = page[-1].conversation_id if len(page) == request.limit else None
        return s.ConversationPage(conversations=page, next_after=next_after)


def _by_zone(
    rows: list[q.UnassignedByZoneGroupRow], hours: CampaignHours, now: datetime
) -> list[s.ZonePool]:
    """Per zone group: how many wait Unassigned, how many a batch may hold now, and when the
    others open, by the assigner's rule (closing margin included)."""
    pools = []
    for row in rows:
        zones = list(row.zones)
        textable = hours.handed_out(now, zones)
        pools.append(
            s.ZonePool(
                zones=zones,
                hours_of=list(zones_to_check(zones, hours.fallback_zone)),
                unassigned=row.n,
                textable_now=row.n if textable else 0,
                next_opening=None if textable else when_open(hours.next_opening(now, [zones])),
            )
        )
    return pools
