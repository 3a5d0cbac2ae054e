"""The deadline header and the slots of work in flight, without a server."""

from __future__ import annotations

import json

import pytest

from shared.contract.access_policy import PUBLIC
from shared.contract.error_codes import ErrorCode
from shared.contract.schemas.base import Request
from shared.runtime.access import Caller
from shared.runtime.admission import RETRY_AFTER_MS, Admission, Waiting, overloaded_reply
from shared.runtime.deadlines import (
    DEADLINE_HEADER,
    DeadlinePassedError,
    deadline_header,
    deadline_of,
    now_ms,
    passed,
)
from shared.runtime.endpoints import Endpoint, answer


def test_the_header_carries_when_the_caller_stops_waiting() -> None:
    before = now_ms()
    deadline = deadline_of(deadline_header(2.5))
    assert deadline is not None
    assert before + 2500 <= deadline <= now_ms() + 2500
    assert not passed(deadline)
    assert passed(now_ms() - 1)


# "0" and epoch seconds are no milliseconds deadline: served, not dropped as long passed.
@pytest.mark.parametrize("raw", ["", "soon", "-5", "1.5e12", "١٢٣", "9" * 40, "0", "1796304386"])
def test_an_unreadable_deadline_is_no_deadline(raw: str) -> None:
    assert deadline_of({DEADLINE_HEADER: raw}) is None
    assert deadline_of(None) is None
    assert not passed(None)


def test_a_full_process_or_a_subjects_full_share_refuses_a_slot() -> None:
    slots: Admission[int] = Admission(8, 1024)
    assert slots.per_subject == 6
    assert all(slots.take("flooded") for _ in range(6))
    assert not slots.take("flooded")  # its share is full; the rest stays for other subjects
    assert slots.take("probe") and slots.take("other")
    assert not slots.take("probe")  # the process is full
    slots.give_back("flooded")
    assert slots.take("probe") and slots.held == 8


def test_the_line_is_bounded_by_count_and_bytes_and_subjects_take_turns() -> None:
    slots: Admission[int] = Admission(4, 1000)  # 3 a subject; 64 waiting, 4,000 bytes
    assert all(slots.take("a") for _ in range(3)) and slots.take("b")
    assert all(slots.wait(Waiting("a", n, None, 10)) for n in range(60))
    assert slots.wait(Waiting("b", 100, None, 10))
    assert not slots.take("b")  # the process is full; and "b" has one waiting before
    assert not slots.wait(Waiting("b", 101, None, 3_500))  # too many bytes
    assert all(slots.wait(Waiting("b", 102 + n, None, 10)) for n in range(3))
    assert not slots.wait(Waiting("b", 105, None, 10))  # 64 waiting
    assert slots.next_waiting() is None  # nothing may start while every slot is held
    slots.give_back("a")
    first = slots.next_waiting()
    assert first is not None and first.job == 0 and slots.next_waiting() is None
    slots.give_back("b")
    slots.give_back("a")
    started = [slots.next_waiting(), slots.next_waiting()]
    assert sorted(w.job for w in started if w is not None) == [1, 100]
    assert slots.waiting == 61


def test_overloaded_says_when_to_try_again() -> None:
    error = json.loads(overloaded_reply())["error"]
    assert error["code"] == ErrorCode.OVERLOADED
    assert error["details"] == {"retry_after_ms": RETRY_AFTER_MS}


class Nothing(Request):
    pass


async def test_a_handler_whose_deadline_passed_is_never_started() -> None:
    started: list[int] = []

    async def handler(_: Nothing, __: Caller) -> None:
        started.append(now_ms())

    endpoint = Endpoint("t", Nothing, handler, PUBLIC)
    with pytest.raises(DeadlinePassedError):
        await answer(endpoint, b"{}", 1024, deadline=now_ms() - 1)
    assert started == []
    _, outcome = await answer(endpoint, b"{}", 1024, deadline=now_ms() + 10_000)
    assert outcome == "ok" and len(started) == 1
