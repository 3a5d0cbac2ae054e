"""Self assignment (the Request Conversations button), invite-link joins, and their events."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from shared.schemas.base import Id, Message, Request

BatchKind = Literal["initials", "replies"]


class RequestBatch(Request):
    campaign_id: Id
    texter_id: Id
    kind: BatchKind = "initials"


class Batch(Message):
    conversation_ids: list[int]
    count: int


class Join(Request):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    texter_id: Id


class Joined(Message):
    campaign_id: int
    kind: str
    conversation_ids: list[int]
    # Why no first batch came, when none did (for example `no_more_conversations`).
    first_batch_error: str | None = None


class ConversationsAssigned(Message):
    """Event on `baton.events.conversation.assigned`: one per batch, not per conversation."""

    operation_id: str
    campaign_id: int
    texter_id: int
    reason: str
    conversation_ids: list[int]
