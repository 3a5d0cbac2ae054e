"""Releases back to Unassigned: the reaper's timed release and the admin's release operations."""

from __future__ import annotations

from typing import Annotated

import msgspec

from shared.contract.schemas.base import Id, Message, Request


class ReleaseUnhandled(Request):
    """`baton.admin.release.unhandled`: every assigned reply of the campaign, now."""

    campaign_id: Id


class ReleaseStaleInitials(Request):
    """`baton.admin.release.stale_initials`: not-started conversations held too long."""

    campaign_id: Id
    held_longer_than_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 365)]


class ReleaseResult(Message):
    operation_id: str
    released: int


class ConversationsReleased(Message):
    """Event on `baton.events.conversation.released`, one per texter who lost conversations,
    in parts of at most 10,000 conversation ids (`part` from 0 of `parts`)."""

    operation_id: str
    campaign_id: int
    from_texter_id: int
    reason: str
    conversation_ids: list[int]
    part: int = 0
    parts: int = 1
