"""Whether a texter may have a batch now: the rules every claim checks, alone or batched.

They run under the texter's claim lock, on what claims.sql `texters_pending` read after taking
it, in this order: who is asking (a stranger learns nothing of the campaign), the campaign's
state, then what the texter still holds (seed 000: send your initials, and answer your replies
where the campaign asks it, before requesting more).
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError, not_found

# What the rules read, as Protocols: the generated rows (claims_queries.py
# `CampaignAndTexterLocksRow`, `TextersPendingRow`) satisfy them, and so do the structs below.


class CampaignColumns(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def org_id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def self_assign(self) -> bool: ...


class ClaimCampaignColumns(CampaignColumns, Protocol):
    @property
    def require_replies_handled(self) -> bool: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def replies_batch_size(self) -> int: ...


class HoldingColumns(Protocol):
    @property
    def is_texter(self) -> bool: ...
    @property
    def initials(self) -> bool: ...
    @property
    def replies(self) -> bool: ...
    @property
    def team_assignment_kind(self) -> str | None: ...
    @property
    def team_max_request_size(self) -> int | None: ...


class CampaignState(msgspec.Struct, frozen=True):
    """What every request checks of a campaign (claims.sql `campaign_and_texter_locks`,
    approvals.sql `request_gate`)."""

    id: int
    org_id: int
    status: str
    self_assign: bool


class ClaimCampaign(CampaignState, frozen=True):
    """And what a claim also needs: its batch sizes and whether replies must be handled first."""

    require_replies_handled: bool
    batch_size: int
    replies_batch_size: int


class TexterHolding(msgspec.Struct, frozen=True):
    """One texter of claims.sql `texters_pending`: on the campaign or not, what they still hold
    that blocks a new batch, and what their team on it allows (None: no team)."""

    is_texter: bool
    initials: bool
    replies: bool
    team_assignment_kind: str | None
    team_max_request_size: int | None


def stranger_refusal(campaign: CampaignColumns, role: str | None) -> BatonError:
    """The refusal for someone who is not a texter on the campaign, given their `role` in its
    organization (access.sql `member_role`): a member is told so, anyone else that the campaign
    does not exist."""
    if role is None:
        return not_found("campaign", campaign.id)
    return BatonError(ErrorCode.NOT_A_MEMBER, "You are not a texter on this campaign")


def claim_refusal(
    campaign: ClaimCampaignColumns, pending: HoldingColumns, kind: str
) -> BatonError | None:
    """Why a texter of the campaign may not have a batch of `kind` now, or None if they may."""
    refusal = campaign_refusal(campaign)
    if refusal is not None:
        return refusal
    refusal = kind_refusal(pending.team_assignment_kind, kind)
    if refusal is not None:
        return refusal
    if kind == "initials":
        if pending.initials:
            return BatonError(
                ErrorCode.INITIALS_PENDING, "Send your initial messages before requesting more"
            )
        if campaign.require_replies_handled and pending.replies:
            return _replies_pending()
    elif pending.replies:
        return _replies_pending()
    return None


def campaign_refusal(campaign: CampaignColumns) -> BatonError | None:
    """Why nobody may request conversations of the campaign now, or None."""
    if campaign.status != "active":
        return BatonError(ErrorCode.CAMPAIGN_NOT_ACTIVE, "This campaign is not active")
    if not campaign.self_assign:
        return BatonError(
            ErrorCode.SELF_ASSIGN_DISABLED, "Self assignment is not enabled for this campaign"
        )
    return None


def kind_refusal(allowed: str | None, kind: str) -> BatonError | None:
    """Why the texter's team on the campaign (`allowed`: its assignment_kind, None: no team)
    does not take batches of `kind`, or None."""
    if allowed in (None, "both", kind):
        return None
    return BatonError(
        ErrorCode.KIND_NOT_ALLOWED,
        f"This campaign's team takes only {allowed} batches",
        {"allowed": allowed},
    )


def batch_size(campaign: ClaimCampaignColumns, pending: HoldingColumns, kind: str) -> int:
    """The largest batch of `kind` for a texter: the campaign's, or their team's
    `max_request_size` if smaller (issue #33)."""
    size = campaign.batch_size if kind == "initials" else campaign.replies_batch_size
    team_max = pending.team_max_request_size
    return size if team_max is None else min(size, team_max)


def _replies_pending() -> BatonError:
    return BatonError(ErrorCode.REPLIES_PENDING, "Answer your replies before requesting more")
