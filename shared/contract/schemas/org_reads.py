"""The reads an admin app needs (issue #33): an organization's campaigns and teams, and a
campaign's invite links, each as much as the caller's role may see."""

from __future__ import annotations

from typing import Annotated

import msgspec

from shared.contract.schemas.admin import CampaignStatus
from shared.contract.schemas.base import Id, Message, Request

PageSize = Annotated[int, msgspec.Meta(ge=1, le=500)]
AfterId = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class ListOrgCampaigns(Request):
    """`baton.query.org.campaigns`: in id order, a page after `after_id`."""

    org_id: Id
    status: CampaignStatus | None = None
    after_id: AfterId = 0
    limit: PageSize = 100


class CampaignCounts(Message):
    """From the campaign's tallies (migration 0011), never by counting rows."""

    total: int
    # Conversations per status: not_started, awaiting_reply, needs_reply, replied, closed.
    by_status: dict[str, int]
    # Of those, Unassigned.
    unassigned: int


class CampaignListed(Message):
    campaign_id: int
    title: str
    status: str
    self_assign: bool
    # The first of `team_ids` (deprecated, for the previous release's clients).
    team_id: int | None
    # The teams it is limited to, all of them (issue #33); empty: none.
    team_ids: list[int]
    created_at: str  # RFC 3339, UTC
    # Moderators and higher only (a texter's list has null, as campaign stats are theirs).
    counts: CampaignCounts | None


class OrgCampaigns(Message):
    org_id: int
    campaigns: list[CampaignListed]
    next_after_id: int | None


class ListOrgTeams(Request):
    """`baton.query.org.teams`: in id order, a page after `after_id`, with members."""

    org_id: Id
    after_id: AfterId = 0
    limit: PageSize = 100


class TeamMember(Message):
    user_id: int
    name: str


class TeamView(Message):
    team_id: int
    name: str
    assignment_priority: int
    assignment_kind: str
    max_request_size: int | None
    members: list[TeamMember]


class OrgTeams(Message):
    org_id: int
    teams: list[TeamView]
    next_after_id: int | None


class ListCampaignInvites(Request):
    """`baton.query.campaign.invites`: the campaign's invite links, oldest first."""

    campaign_id: Id
    include_revoked: bool = False


class InviteView(Message):
    token: str
    kind: str
    created_by: int
    created_at: str  # RFC 3339, UTC
    revoked_at: str | None


class CampaignInvites(Message):
    campaign_id: int
    invites: list[InviteView]
