import msgspec
import pytest

from shared.contract.schemas.assign import ConversationsMoved
from shared.domain import event_parts
from shared.domain.event_parts import IDS_PER_EVENT, in_parts, part_id
from shared.runtime.settings import MAX_PAYLOAD_BYTES


def test_parts_cover_every_id_once_in_order_and_none_is_larger_than_the_limit() -> None:
    ids = list(range(1, 2 * IDS_PER_EVENT + 2))
    parts = in_parts(ids)
    assert [len(p) for p in parts] == [IDS_PER_EVENT, IDS_PER_EVENT, 1]
    assert [i for p in parts for i in p] == ids
    assert in_parts([]) == [[]] and in_parts([7]) == [[7]]
    assert part_id("op:12", 2) == "op:12:2"


def test_a_full_part_of_the_largest_ids_is_far_under_the_nats_payload_limit() -> None:
    largest = [2**63 - 1] * IDS_PER_EVENT
    event = ConversationsMoved(operation_id="0" * 36, campaign_id=2**63 - 1, reason="reassign",
                               to_texter_id=2**63 - 1, conversation_ids=largest, part=0, parts=1)  # fmt: skip
    assert len(msgspec.json.encode(event)) < MAX_PAYLOAD_BYTES / 4


def test_numbered_parts_carry_their_id_number_and_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_parts, "IDS_PER_EVENT", 2)
    assert event_parts.numbered_parts("op:7", [1, 2, 3]) == [
        ("op:7:0", 0, 2, [1, 2]),
        ("op:7:1", 1, 2, [3]),
    ]
    assert event_parts.numbered_parts("op:7", []) == [("op:7:0", 0, 1, [])]
