"""services/assigner/claim_rules.py on typed rows, without a database: the refusals a batch
request gets, in the order the rules check them, and the batch size a texter's team allows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.assigner.claim_rules import (
    ClaimCampaign,
    TexterHolding,
    batch_size,
    campaign_refusal,
    claim_refusal,
    stranger_refusal,
)
from services.assigner.claims_queries import CampaignAndTexterLocksRow, TextersPendingRow
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import not_found


def campaign(**changes: Any) -> ClaimCampaign:
    fields: dict[str, Any] = dict(
        id=3,
        org_id=1,
        status="active",
        self_assign=True,
        require_replies_handled=False,
        batch_size=200,
        replies_batch_size=50,
    )
    return ClaimCampaign(**(fields | changes))


def holding(**changes: Any) -> TexterHolding:
    fields: dict[str, Any] = dict(
        is_texter=True,
        initials=False,
        replies=False,
        team_assignment_kind=None,
        team_max_request_size=None,
    )
    return TexterHolding(**(fields | changes))


def code(kind: str, c: ClaimCampaign | None = None, h: TexterHolding | None = None) -> str | None:
    refusal = claim_refusal(c or campaign(), h or holding(), kind)
    return None if refusal is None else refusal.code


@pytest.mark.parametrize("role", ["texter", "admin", "owner"])
def test_a_member_who_is_no_texter_on_the_campaign_is_told_so(role: str) -> None:
    assert stranger_refusal(campaign(), role).code == ErrorCode.NOT_A_MEMBER


def test_someone_outside_the_organization_learns_nothing_of_the_campaign() -> None:
    # The very refusal a campaign id that exists nowhere gets.
    refusal, unknown = stranger_refusal(campaign(id=4711), None), not_found("campaign", 4711)
    assert (refusal.code, refusal.message, refusal.details) == (
        unknown.code,
        unknown.message,
        unknown.details,
    )


def test_a_texter_holding_nothing_may_have_either_batch() -> None:
    assert code("initials") is None and code("replies") is None


@pytest.mark.parametrize(
    ("kind", "c", "h", "expected"),
    [
        ("initials", campaign(status="draft"), None, ErrorCode.CAMPAIGN_NOT_ACTIVE),
        ("initials", campaign(self_assign=False), None, ErrorCode.SELF_ASSIGN_DISABLED),
        ("initials", None, holding(team_assignment_kind="replies"), ErrorCode.KIND_NOT_ALLOWED),
        ("replies", None, holding(team_assignment_kind="initials"), ErrorCode.KIND_NOT_ALLOWED),
        ("initials", None, holding(initials=True), ErrorCode.INITIALS_PENDING),
        ("replies", None, holding(replies=True), ErrorCode.REPLIES_PENDING),
        (
            "initials",
            campaign(require_replies_handled=True),
            holding(replies=True),
            ErrorCode.REPLIES_PENDING,
        ),
    ],
)
def test_each_refusal(
    kind: str, c: ClaimCampaign | None, h: TexterHolding | None, expected: str
) -> None:
    assert code(kind, c, h) == expected


def test_unanswered_replies_do_not_hold_back_initials_unless_the_campaign_asks() -> None:
    assert code("initials", h=holding(replies=True)) is None


def test_the_campaign_is_checked_before_what_the_texter_holds() -> None:
    assert code("initials", campaign(status="archived"), holding(initials=True)) == (
        ErrorCode.CAMPAIGN_NOT_ACTIVE
    )
    assert campaign_refusal(campaign()) is None


def test_a_batch_is_the_campaigns_size_or_the_teams_if_smaller() -> None:
    assert batch_size(campaign(), holding(), "initials") == 200
    assert batch_size(campaign(), holding(), "replies") == 50
    assert batch_size(campaign(), holding(team_max_request_size=25), "initials") == 25
    assert batch_size(campaign(), holding(team_max_request_size=500), "replies") == 50


def _locked_campaign(**changes: Any) -> CampaignAndTexterLocksRow:
    moment = datetime(2026, 6, 1, tzinfo=UTC)
    fields: dict[str, Any] = dict(
        id=3, org_id=1, team_id=None, title="t", status="active", self_assign=True,
        batch_size=200, replies_batch_size=50, require_replies_handled=True,
        release_unhandled_after_minutes=None, texting_hours_start=9, texting_hours_end=21,
        sending_number=None, created_at=moment, updated_at=moment, closing_margin_minutes=30,
        fallback_zone=None, zone_groups=[], pool_floors=[], locked=True,
    )  # fmt: skip
    return CampaignAndTexterLocksRow(**(fields | changes))


def _pending(**changes: Any) -> TextersPendingRow:
    fields: dict[str, Any] = dict(
        user_id=7, team_assignment_kind=None, team_max_request_size=None, is_texter=True,
        initials=False, replies=False,
    )  # fmt: skip
    return TextersPendingRow(**(fields | changes))


def test_the_rules_take_the_generated_rows_of_claims_sql() -> None:
    """The rows `make queries` generates for campaign_and_texter_locks and texters_pending carry
    every column the rules read, typed as the rules need (mypy checks the same)."""
    assert claim_refusal(_locked_campaign(), _pending(), "initials") is None
    refusal = claim_refusal(_locked_campaign(), _pending(replies=True), "initials")
    assert refusal is not None and refusal.code == ErrorCode.REPLIES_PENDING
    refusal = claim_refusal(_locked_campaign(self_assign=False), _pending(), "replies")
    assert refusal is not None and refusal.code == ErrorCode.SELF_ASSIGN_DISABLED
    assert batch_size(_locked_campaign(), _pending(team_max_request_size=25), "replies") == 25
