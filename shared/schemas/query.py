"""Read-only queries: campaign statistics and conversation listings."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from shared.schemas.base import Id, Message, Request

ConversationStatus = Literal["not_started", "awaiting_reply", "needs_reply", "replied", "closed"]


class CampaignStatsRequest(Request):
    campaign_id: Id


class CampaignStats(Message):
    campaign_id: int
    total: int
    by_status: dict[str, int]
    unassigned_by_status: dict[str, int]
    by_assignee: dict[str, dict[str, int]]
    failed_initials: int


class ListConversations(Request):
    campaign_id: Id
    assignee_id: Id | None = None
    unassigned: bool = False
    status: ConversationStatus | None = None
    # The texter's inbox hides conversations that only wait for the contact (seed 000).
    inbox: bool = False
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    after: Annotated[int, msgspec.Meta(ge=0)] = 0


class ConversationRow(Message):
    conversation_id: int
    contact_id: int
    status: str
    assignee_id: int | None
    needs_reply_since: str | None
    first_name: str
    last_name: str


class ConversationPage(Message):
    conversations: list[ConversationRow]
    next_after: int | None
