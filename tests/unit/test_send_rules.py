"""services/sender/send_rules.py on typed rows, without a database: each refusal a send can get,
in the order the rule checks them, and the send that may go."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from services.sender.queries import ConversationForSendRow, ConversationsForSendRow
from services.sender.send_rules import ConversationForSend, holder_refusal, refusal_for
from shared.contract.error_codes import ErrorCode
from shared.contract.schemas.messaging import Send

TEXTER = 7
# 18:00 UTC is 14:00 in New York, inside 9-21; 03:00 UTC is 23:00 there, outside.
DAY = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)
NIGHT = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)


def row(**changes: Any) -> ConversationForSend:
    fields: dict[str, Any] = dict(
        id=11,
        campaign_id=3,
        status="not_started",
        assignee_id=TEXTER,
        phone="+12125550100",
        zones=["America/New_York"],
        org_id=1,
        campaign_status="active",
        texting_hours_start=9,
        texting_hours_end=21,
        closing_margin_minutes=30,
        fallback_zone=None,
        sending_number="+14155550100",
        opted_out=False,
        caller_is_member=True,
        caller_is_texter=True,
    )
    fields.update(changes)
    return ConversationForSendRow(**fields)


def code(kind: str, conversation: ConversationForSend | None, now: datetime = DAY) -> str | None:
    request = Send(conversation_id=11, body="Hi", idempotency_key="k")
    refusal = refusal_for(request, TEXTER, kind, conversation, now)
    return None if refusal is None else refusal.code


def test_a_held_conversation_in_hours_may_be_texted() -> None:
    assert code("initial", row()) is None
    assert code("reply", row(status="needs_reply")) is None


@pytest.mark.parametrize(
    ("conversation", "kind", "expected"),
    [
        (None, "initial", ErrorCode.NOT_FOUND),
        (row(caller_is_member=False), "initial", ErrorCode.NOT_FOUND),
        (row(caller_is_texter=False), "initial", ErrorCode.NOT_A_MEMBER),
        (row(assignee_id=8), "initial", ErrorCode.ASSIGNMENT_CHANGED),
        (row(assignee_id=None), "reply", ErrorCode.ASSIGNMENT_CHANGED),
        (row(campaign_status="archived"), "initial", ErrorCode.CAMPAIGN_NOT_ACTIVE),
        (row(opted_out=True), "initial", ErrorCode.OPTED_OUT),
        (row(status="closed"), "reply", ErrorCode.OPTED_OUT),
        (row(status="awaiting_reply"), "initial", ErrorCode.ALREADY_SENT),
        (row(status="not_started"), "reply", ErrorCode.INITIAL_NOT_SENT),
    ],
)
def test_each_refusal(conversation: ConversationForSend | None, kind: str, expected: str) -> None:
    assert code(kind, conversation) == expected


def test_the_holder_is_checked_before_anything_about_the_contact() -> None:
    # Someone else's conversation of an opted-out contact: they learn it is not theirs, not the
    # contact's consent.
    assert code("initial", row(assignee_id=8, opted_out=True)) == ErrorCode.ASSIGNMENT_CHANGED


def test_outside_texting_hours_names_the_hours_and_the_zone() -> None:
    refusal = refusal_for(
        Send(conversation_id=11, body="Hi", idempotency_key="k"), TEXTER, "initial", row(), NIGHT
    )
    assert refusal is not None and refusal.code == ErrorCode.OUTSIDE_TEXTING_HOURS
    assert "9:00-21:00" in refusal.message and "America/New_York" in refusal.message


def test_the_closing_margin_holds_back_hand_outs_not_sends() -> None:
    # 20:45 in New York: inside the margin, still inside the hours a send is held to.
    late = datetime(2026, 6, 2, 0, 45, tzinfo=UTC)
    assert code("initial", row(), late) is None


def test_a_texter_opting_out_follows_the_same_holder_rule() -> None:
    assert holder_refusal(11, TEXTER, row()) is None
    refusal = holder_refusal(11, TEXTER, row(assignee_id=8))
    assert refusal is not None and refusal.code == ErrorCode.ASSIGNMENT_CHANGED


def test_a_batch_row_gets_the_same_rules() -> None:
    """conversations_for_send's row (its place `i` in the batch first) is judged as the single
    send's: the rules read the columns by name, never by position."""
    single = row(assignee_id=8)
    batched = ConversationsForSendRow(i=1, **msgspec.structs.asdict(single))
    assert code("initial", batched) == code("initial", single) == ErrorCode.ASSIGNMENT_CHANGED
    assert code("initial", ConversationsForSendRow(i=2, **msgspec.structs.asdict(row()))) is None


def test_a_row_missing_a_column_fails_where_it_is_built() -> None:
    with pytest.raises(TypeError, match="Missing required argument"):
        ConversationForSendRow(*(11, 3, "not_started"))
