"""Whether one send may go out: the last guard before a text leaves (Spoke's "your assignment
has changed"). Pure: the conversation's row, read locked, and the time decide."""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias

from services.sender.queries import ConversationForSendRow, ConversationsForSendRow
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError, not_found
from shared.contract.schemas import messaging as s
from shared.domain.texting_hours import CampaignHours, zones_to_check

REPLYABLE = ("needs_reply", "replied", "awaiting_reply")


# A conversation as a send sees it, read locked: queries.sql `conversation_for_send`, or
# `conversations_for_send` for a batch (the same columns and `i`, the send's place in it).
ConversationForSend: TypeAlias = ConversationForSendRow | ConversationsForSendRow


def holder_refusal(
    conversation_id: int, texter_id: int, row: ConversationForSend | None
) -> BatonError | None:
    """Why this caller may not act on the conversation as the texter holding it, or None when
    they may: a member of its organization, still a texter on its campaign, holding it. One rule
    for a send and for a texter's opt-out (services/sender/manual_opt_out.py)."""
    # Another organization's conversation is, to this caller, no conversation at all.
    if row is None or not row.caller_is_member:
        return not_found("conversation", conversation_id)
    if not row.caller_is_texter:
        # Removed from the campaign: what they still hold is no longer theirs to text.
        return BatonError(ErrorCode.NOT_A_MEMBER, "You are not a texter on this campaign")
    if row.assignee_id != texter_id:
        return BatonError(
            ErrorCode.ASSIGNMENT_CHANGED,
            "Your assignment has changed: this conversation is no longer yours",
        )
    return None


def refusal_for(
    request: s.Send, texter_id: int, kind: str, row: ConversationForSend | None, now: datetime
) -> BatonError | None:
    """The refusal this send gets, or None when it may go: the conversation must still be this
    texter's, the contact must not have opted out, the status must allow it and the contact's
    local time must be inside texting hours."""
    refusal = holder_refusal(request.conversation_id, texter_id, row)
    if refusal is not None or row is None:
        return refusal or not_found("conversation", request.conversation_id)
    if row.campaign_status != "active":
        return BatonError(ErrorCode.CAMPAIGN_NOT_ACTIVE, "This campaign is not active")
    if row.opted_out or row.status == "closed":
        return BatonError(ErrorCode.OPTED_OUT, "This contact has opted out; nothing can be sent")
    if kind == "initial" and row.status != "not_started":
        return BatonError(ErrorCode.ALREADY_SENT, "The initial message was already sent")
    if kind == "reply" and row.status not in REPLYABLE:
        return BatonError(ErrorCode.INITIAL_NOT_SENT, "Send the initial message first")
    hours = CampaignHours.of_row(row)
    if not hours.sendable(now, row.zones):
        where = ", ".join(zones_to_check(row.zones, hours.fallback_zone))
        return BatonError(
            ErrorCode.OUTSIDE_TEXTING_HOURS,
            f"It is outside texting hours ({row.texting_hours_start}:00-"
            f"{row.texting_hours_end}:00) where this contact is ({where})",
        )
    return None
