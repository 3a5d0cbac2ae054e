"""Self assignment (the Request Conversations button), invite-link joins, and their events."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from shared.contract.schemas.base import Id, Message, Request

BatchKind = Literal["initials", "replies"]


class RequestBatch(Request):
    """`baton.assign.request`: a batch for the caller. Without `campaign_id`, the campaign is
    picked for them (issue #33): their teams' highest priority first, then the oldest, among
    those with something textable now; they are enrolled on it."""

    campaign_id: Id | None = None
    kind: BatchKind = "initials"


class Batch(Message):
    conversation_ids: list[int]
    count: int
    # `pending_approval`: the caller's level is approval_required; the request waits as
    # `request_id` (baton.query.assignment_requests tells its outcome) and nothing is held yet.
    status: Literal["assigned", "pending_approval"] = "assigned"
    request_id: int | None = None
    # The campaign the batch is from (the one picked, when the request named none).
    campaign_id: int | None = None


class Join(Request):
    """`baton.assign.join`: enrolls the caller, and only the caller."""

    token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class NextOpening(Message):
    """When the next conversations can be texted: the `details` of a `none_textable_now`
    refusal ("next conversations at 09:00 Pacific/Honolulu time")."""

    opens_at: str  # ISO 8601, UTC
    zone: str  # the IANA zone whose texting hours open then
    local_time: str  # "09:00", in that zone


class Joined(Message):
    """The enrolled campaign and the first batch; when none came, `first_batch_error` says why:
    a claim's refusal, `not_approved`, or `pending_approval` / `request_pending` with the
    waiting request's `request_id` (the caller's request level, docs/request_levels.md)."""

    campaign_id: int
    kind: str
    conversation_ids: list[int]
    # Why no first batch came, when none did (for example `no_more_conversations`).
    first_batch_error: str | None = None
    # With `none_textable_now`: when the next conversations open (null if not within a week).
    next_opening: NextOpening | None = None
    # With `pending_approval` (the caller's level is approval_required: the first batch waits as
    # this request for a moderator) or `request_pending` (one of theirs waits already): its id.
    request_id: int | None = None


class ConversationsAssigned(Message):
    """Event on `baton.events.conversation.assigned`: one per batch, not per conversation."""

    operation_id: str
    campaign_id: int
    texter_id: int
    reason: str
    conversation_ids: list[int]


ReassignStatus = Literal["any", "needs_reply", "not_started"]


class Reassign(Request):
    """Reassign Some / Reassign All / Unassign All, at campaign or sender level (seed 003)."""

    campaign_id: Id
    status: ReassignStatus
    # Empty: Unassign All, which needs `confirm: true`.
    to_texter_ids: Annotated[list[Id], msgspec.Meta(max_length=10_000)]
    # Sender level: only this texter's conversations. Without it, every sender's (bulk).
    from_texter_id: Id | None = None
    # Bulk over the Unassigned conversations instead (seed 002's first step).
    from_unassigned: bool = False
    # Reassign Some: this many; without it, Reassign All.
    count: Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)] | None = None
    confirm: bool = False


class Reassigned(Message):
    operation_id: str
    moved: int
    # Texter id (as a string; "unassigned" for Unassigned) -> conversations it received.
    per_texter: dict[str, int]


class Move(Request):
    """One conversation to one texter, or to Unassigned with `to_texter_id: null` (seed 002)."""

    conversation_id: Id
    to_texter_id: Id | None


class ConversationsMoved(Message):
    """Event on `baton.events.conversation.reassigned`, one per receiving texter per operation,
    in parts of at most 10,000 conversation ids (`part` from 0 of `parts`)."""

    operation_id: str
    campaign_id: int
    reason: str
    to_texter_id: int | None
    conversation_ids: list[int]
    part: int = 0
    parts: int = 1


class Release(Request):
    """`baton.assign.release`, the texter's "Done Texting" (seed 004): their unanswered replies
    go back to Unassigned for others to claim."""

    campaign_id: Id
