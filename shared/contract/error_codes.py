"""Every code a Baton request can be refused with, declared once with its meaning and whether a
retry can help. The catalogue (shared/contract/catalogue.py) names the codes each subject may
return; docs/api.md's table of codes and the clients' retry policy (shared/runtime/client.py) come
from here.
"""

from __future__ import annotations

from enum import StrEnum


class Retry(StrEnum):
    """Whether sending the same request again can succeed."""

    # The same request, after a back-off (with the same idempotency key where it takes one).
    NOW = "now"
    # The same request once the condition the message names changes (hours open, initials sent).
    LATER = "later"
    # Never as it is: the request itself must change.
    NEVER = "never"


class ErrorCode(StrEnum):
    """A refusal's stable code, the `error.code` of the reply envelope. Callers switch on it."""

    BAD_REQUEST = "bad_request"
    UNAUTHENTICATED = "unauthenticated"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNAVAILABLE = "unavailable"
    OVERLOADED = "overloaded"
    INTERNAL = "internal"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    NOT_A_MEMBER = "not_a_member"
    BUSY = "busy"
    CONFIRMATION_REQUIRED = "confirmation_required"
    CAMPAIGN_NOT_ACTIVE = "campaign_not_active"
    SELF_ASSIGN_DISABLED = "self_assign_disabled"
    INITIALS_PENDING = "initials_pending"
    REPLIES_PENDING = "replies_pending"
    NO_MORE_CONVERSATIONS = "no_more_conversations"
    NONE_TEXTABLE_NOW = "none_textable_now"
    INVALID_INVITE = "invalid_invite"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    ASSIGNMENT_CHANGED = "assignment_changed"
    OPTED_OUT = "opted_out"
    ALREADY_SENT = "already_sent"
    INITIAL_NOT_SENT = "initial_not_sent"
    OUTSIDE_TEXTING_HOURS = "outside_texting_hours"
    # Assignment requests that wait for approval (issue #33).
    REQUEST_PENDING = "request_pending"
    NOT_APPROVED = "not_approved"
    KIND_NOT_ALLOWED = "kind_not_allowed"

    @property
    def meaning(self) -> str:
        return _DOCUMENTED[self][0]

    @property
    def retry(self) -> Retry:
        return _DOCUMENTED[self][1]

    @property
    def retryable(self) -> bool:
        """A retry of the very same request, after a back-off, can succeed."""
        return self.retry is Retry.NOW


# Codes every subject may return, whatever it does: the request layer's
# (shared/runtime/endpoints.py).
TRANSPORT_CODES: tuple[ErrorCode, ...] = (
    ErrorCode.BAD_REQUEST,
    ErrorCode.UNAUTHENTICATED,
    ErrorCode.PAYLOAD_TOO_LARGE,
    ErrorCode.UNAVAILABLE,
    ErrorCode.OVERLOADED,
    ErrorCode.INTERNAL,
)

_DOCUMENTED: dict[ErrorCode, tuple[str, Retry]] = {
    ErrorCode.BAD_REQUEST: (
        "The request is malformed: not JSON, an unknown field, a wrong type or an out-of-range "
        "value; the message says which. Nothing was done.",
        Retry.NEVER,
    ),
    ErrorCode.UNAUTHENTICATED: (
        "No bearer token, or one that is malformed, forged, expired or not yet valid (the same "
        "code whatever was wrong). Nothing was done; get a new token.",
        Retry.NEVER,
    ),
    ErrorCode.PAYLOAD_TOO_LARGE: (
        "The request is larger than the service takes (`details.limit`, bytes). Split it "
        "(contact imports take parts).",
        Retry.NEVER,
    ),
    ErrorCode.UNAVAILABLE: (
        "Postgres or NATS could not be reached: the request may or may not have taken effect. "
        "Retry it, with the same idempotency key where the subject takes one.",
        Retry.NOW,
    ),
    ErrorCode.OVERLOADED: (
        "The service holds all the work it takes; nothing was done. Retry after "
        "`details.retry_after_ms`.",
        Retry.NOW,
    ),
    ErrorCode.INTERNAL: (
        "A bug in Baton, logged with the request's subject; whether anything was done is "
        "unknown. The same request usually fails the same way.",
        Retry.NEVER,
    ),
    ErrorCode.FORBIDDEN: (
        "The caller is a member of the organization, but their role is too low for this "
        "(or the operator asked for more than creating organizations and first owners).",
        Retry.NEVER,
    ),
    ErrorCode.NOT_FOUND: (
        "The id named does not exist, or belongs to an organization the caller is not a member "
        "of (the two are not told apart). `details.what` names the kind of thing.",
        Retry.NEVER,
    ),
    ErrorCode.CONFLICT: (
        "The request contradicts what is stored: a name or number already taken, an import "
        "already committed or incomplete, a number still in use. `details` names what.",
        Retry.NEVER,
    ),
    ErrorCode.NOT_A_MEMBER: (
        "A user named (or the caller) is not where the request needs them: not in the "
        "organization, or not a texter on the campaign. `details.user_ids` lists them.",
        Retry.NEVER,
    ),
    ErrorCode.BUSY: (
        "Another request is working on the same thing at this moment (handing out a campaign's "
        "conversations, one contact import); nothing was done. Retry shortly.",
        Retry.NOW,
    ),
    ErrorCode.CONFIRMATION_REQUIRED: (
        "Unassigning empties conversations into Unassigned: send the same request with "
        "`confirm: true`.",
        Retry.NEVER,
    ),
    ErrorCode.CAMPAIGN_NOT_ACTIVE: (
        "The campaign is not active (a draft, or archived); an admin must make it active.",
        Retry.LATER,
    ),
    ErrorCode.SELF_ASSIGN_DISABLED: (
        "Texters may not request conversations on this campaign; an admin assigns them.",
        Retry.LATER,
    ),
    ErrorCode.INITIALS_PENDING: (
        "The caller still holds initial messages not sent; send them before asking for more.",
        Retry.LATER,
    ),
    ErrorCode.REPLIES_PENDING: (
        "The campaign asks texters to answer the replies they hold before asking for more.",
        Retry.LATER,
    ),
    ErrorCode.NO_MORE_CONVERSATIONS: (
        "The campaign's pool holds nothing the caller may take: everything is assigned, sent or "
        "closed. More comes from an import or a release.",
        Retry.LATER,
    ),
    ErrorCode.NONE_TEXTABLE_NOW: (
        "The pool holds conversations, but none whose contact is inside texting hours now. "
        "`details.opens_at` (RFC 3339, UTC), `details.zone` and `details.local_time` say "
        "when the next ones open (no `details` when nothing opens within a week).",
        Retry.LATER,
    ),
    ErrorCode.INVALID_INVITE: ("The invite token is unknown, revoked or expired.", Retry.NEVER),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: (
        "This idempotency key was used for another text (another conversation, or an initial "
        "where this is a reply); use a new key per text.",
        Retry.NEVER,
    ),
    ErrorCode.ASSIGNMENT_CHANGED: (
        "The conversation is no longer the caller's (reassigned or released); nothing was sent.",
        Retry.NEVER,
    ),
    ErrorCode.OPTED_OUT: (
        "The contact opted out of this organization's texts; nothing can be sent to them.",
        Retry.NEVER,
    ),
    ErrorCode.ALREADY_SENT: (
        "The conversation's initial message was sent already (under another idempotency key).",
        Retry.NEVER,
    ),
    ErrorCode.INITIAL_NOT_SENT: (
        "A reply was sent in a conversation whose initial message has not gone out.",
        Retry.LATER,
    ),
    ErrorCode.OUTSIDE_TEXTING_HOURS: (
        "It is outside the campaign's texting hours where the contact is; nothing was sent.",
        Retry.LATER,
    ),
    # Assignment requests that wait for approval (issue #33).
    ErrorCode.REQUEST_PENDING: (
        "The caller's earlier request for conversations still waits for a moderator's approval "
        "(`details.request_id`); its outcome is in `baton.query.assignment_requests`.",
        Retry.LATER,
    ),
    ErrorCode.NOT_APPROVED: (
        "The caller's requests for conversations are not approved in this organization: a "
        "moderator assigns them conversations, or changes their request level.",
        Retry.LATER,
    ),
    ErrorCode.KIND_NOT_ALLOWED: (
        "The campaign's team takes only the other kind of batch (`details.allowed`: initials "
        "or replies); ask for that kind.",
        Retry.NEVER,
    ),
}
