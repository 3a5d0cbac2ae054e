"""Read-only queries: campaign statistics and conversation listings."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from shared.contract.schemas.assign import NextOpening
from shared.contract.schemas.base import Id, Message, Request

ConversationStatus = Literal["not_started", "awaiting_reply", "needs_reply", "replied", "closed"]


class ReadOrg(Request):
    org_id: Id


class ReadCampaign(Request):
    campaign_id: Id


class CampaignStatsRequest(Request):
    campaign_id: Id


class ZonePool(Message):
    """The Unassigned conversations of one zone set: contacts in `zones` (several for a number
    spanning zones, none when nothing is known), whose hours are those of `hours_of`."""

    zones: list[str]
    hours_of: list[str]
    unassigned: int  # not_started and needs_reply
    # As many as are inside texting hours now, with the closing margin still ahead: what a
    # batch may hold at this moment (0 while closed).
    textable_now: int
    # When closed now: when they open (null if open now, or not within a week).
    next_opening: NextOpening | None


class CampaignStats(Message):
    campaign_id: int
    total: int
    by_status: dict[str, int]
    unassigned_by_status: dict[str, int]
    by_assignee: dict[str, dict[str, int]]
    failed_initials: int
    # Of the Unassigned conversations, how many a batch may hold now: in all and per zone set.
    unassigned_textable_now: int
    unassigned_by_zone: list[ZonePool]


class ListConversations(Request):
    campaign_id: Id
    assignee_id: Id | None = None
    unassigned: bool = False
    status: ConversationStatus | None = None
    # A texter's inbox, without the conversations that only wait for the contact (seed 000):
    # the caller's own (whatever their role), or, for a moderator, `assignee_id`'s.
    inbox: bool = False
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    after: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] = 0


class ConversationRow(Message):
    conversation_id: int
    contact_id: int
    status: str
    assignee_id: int | None
    needs_reply_since: str | None
    first_name: str
    last_name: str
    # The contact's number in E.164 (digits for a short code): the caller holds the conversation
    # or moderates its campaign, the only ones who may list it.
    phone: str


class ConversationPage(Message):
    conversations: list[ConversationRow]
    next_after: int | None
