"""The reads an admin app needs (issue #33), so it keeps no copy of what Baton created: an
organization's campaigns (with counts from the tallies) and teams (with members), and a
campaign's invite links. Each shows what the caller's role may see: a texter, the campaigns they
text on without counts and the teams they are in; invite links, moderators and higher."""

from __future__ import annotations

from collections import defaultdict

import asyncpg

from services.assigner import org_reads_queries as q
from services.assigner.admin import fetch_campaign_as
from services.assigner.reads import STATUSES
from shared.contract.access_policy import allows
from shared.contract.errors import not_found
from shared.contract.schemas import org_reads as s
from shared.domain.times import rfc3339
from shared.runtime.access import Caller


class OrgReads:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def campaigns(self, request: s.ListOrgCampaigns, caller: Caller) -> s.OrgCampaigns:
        async with self._pool.acquire() as conn:
            role = await caller.role_in(
                conn, request.org_id, not_found("organization", request.org_id)
            )
            moderator = allows(role, "moderator")
            rows = await q.org_campaigns_page(
                conn,
                org_id=request.org_id,
                status=request.status,
                after_id=request.after_id,
                limit=request.limit,
                texter_id=None if moderator else caller.user_id,
            )
            ids = [r.id for r in rows]
            tallies = await q.campaign_counts(conn, campaign_ids=ids) if moderator else []
        counts = _counts(tallies)
        page = [
            s.CampaignListed(
                campaign_id=r.id,
                title=r.title,
                status=r.status,
                self_assign=r.self_assign,
                team_id=r.team_id,
                team_ids=list(r.team_ids),
                created_at=rfc3339(r.created_at),
                counts=counts.get(r.id, _no_counts()) if moderator else None,
            )
            for r in rows
        ]
        return s.OrgCampaigns(
            org_id=request.org_id, campaigns=page, next_after_id=_next(ids, request.limit)
        )

    async def teams(self, request: s.ListOrgTeams, caller: Caller) -> s.OrgTeams:
        async with self._pool.acquire() as conn:
            role = await caller.role_in(
                conn, request.org_id, not_found("organization", request.org_id)
            )
            only = None if allows(role, "moderator") else caller.user_id
            rows = await q.org_teams_page(
                conn,
                org_id=request.org_id,
                after_id=request.after_id,
                limit=request.limit,
                only=only,
            )
            ids = [r.id for r in rows]
            members = await q.team_members(conn, team_ids=ids)
        by_team: dict[int, list[s.TeamMember]] = defaultdict(list)
        for m in members:
            by_team[m.team_id].append(s.TeamMember(user_id=m.user_id, name=m.name))
        teams = [
            s.TeamView(
                team_id=r.id,
                name=r.name,
                assignment_priority=r.assignment_priority,
                assignment_kind=r.assignment_kind,
                max_request_size=r.max_request_size,
                members=by_team[r.id],
            )
            for r in rows
        ]
        return s.OrgTeams(
            org_id=request.org_id, teams=teams, next_after_id=_next(ids, request.limit)
        )

    async def invites(self, request: s.ListCampaignInvites, caller: Caller) -> s.CampaignInvites:
        async with self._pool.acquire() as conn:
            await fetch_campaign_as(conn, caller, request.campaign_id)
            rows = await q.campaign_invites(
                conn, campaign_id=request.campaign_id, include_revoked=request.include_revoked
            )
        invites = [
            s.InviteView(
                token=r.token,
                kind=r.kind,
                created_by=r.created_by,
                created_at=rfc3339(r.created_at),
                revoked_at=rfc3339(r.revoked_at) if r.revoked_at else None,
            )
            for r in rows
        ]
        return s.CampaignInvites(campaign_id=request.campaign_id, invites=invites)


def _next(ids: list[int], limit: int) -> int | None:
    """The `after_id` of the next page: the last id of a full page."""
    return ids[-1] if len(ids) == limit else None


def _no_counts() -> s.CampaignCounts:
    return s.CampaignCounts(total=0, by_status=dict.fromkeys(STATUSES, 0), unassigned=0)


def _counts(rows: list[q.CampaignCountsRow]) -> dict[int, s.CampaignCounts]:
    counts: dict[int, s.CampaignCounts] = {}
    for row in rows:
        c = counts.setdefault(row.campaign_id, _no_counts())
        c.by_status[row.status] = c.by_status.get(row.status, 0) + row.n
        c.total += row.n
        c.unassigned += row.unassigned
    return counts
