"""Assignment requests that wait for approval (issue #33): a texter's request level in an
organization, the requests of those who need approval, and their resolution."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from shared.contract.schemas.base import Id, Message, Request

# What a member's Request Conversations does: a batch at once, a request that waits for a
# moderator, or a refusal (docs/request_levels.md says it from the texter's side).
RequestLevel = Literal["auto_approve", "approval_required", "do_not_approve"]
# pending -> rejected; pending -> approved -> fulfilled (the batch claimed) or unfulfilled (a
# claim rule refused it: `refusal`); pending -> cancelled (its reason went away: `refusal` says
# request_level_changed, removed_from_organization or removed_from_campaign).
RequestStatus = Literal["pending", "approved", "rejected", "fulfilled", "unfulfilled", "cancelled"]
PageSize = Annotated[int, msgspec.Meta(ge=1, le=500)]


class AssignmentRequest(Message):
    request_id: int
    org_id: int
    campaign_id: int
    texter_id: int
    kind: str
    status: RequestStatus
    # The batch handed out on approval (fulfilled), else empty.
    conversation_ids: list[int]
    # Why the approved claim handed nothing out (unfulfilled: an error code), or why it was
    # cancelled (request_level_changed, removed_from_organization, removed_from_campaign).
    refusal: str | None
    # The refusal's details, as a direct request's error carries them (none_textable_now:
    # opens_at, zone, local_time); null when it has none.
    refusal_details: dict[str, Any] | None
    resolved_by: int | None
    created_at: str  # RFC 3339, UTC
    updated_at: str  # RFC 3339, UTC


class ListAssignmentRequests(Request):
    """`baton.query.assignment_requests`: an organization's requests in id order (a texter's
    own only, whatever `texter_id` says)."""

    org_id: Id
    # Only requests in this state (moderators: `pending`, the ones waiting); null: every state.
    status: RequestStatus | None = None
    texter_id: Id | None = None
    # The page after this request id.
    after_id: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] = 0
    limit: PageSize = 100


class AssignmentRequests(Message):
    org_id: int
    requests: list[AssignmentRequest]
    # The `after_id` of the next page; null when this one is the last.
    next_after_id: int | None


class ResolveAssignmentRequest(Request):
    """`baton.admin.assignment_requests.resolve`: approve (the batch is claimed now, under
    every rule a direct request obeys) or reject a waiting request."""

    request_id: Id
    approve: bool
    # Also set the texter's request level in the organization.
    request_level: RequestLevel | None = None


class AssignmentRequestChanged(AssignmentRequest):
    """Event on `baton.events.assignment_request.changed`: one per transition, the request as
    it became, with who made the transition."""

    actor_id: int | None
    # The texter's request level, when this transition set it.
    request_level: RequestLevel | None = None
