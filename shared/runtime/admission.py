"""How much work a service takes on at once, how much it keeps waiting, and what it refuses.

Each process handles at most `BATON_MAX_IN_FLIGHT` requests at once, one subject at most
`SUBJECT_SHARE` of them, so a flood on one subject leaves slots for every other one (a status
probe, a texter's send beside a flood of queries). Requests beyond that wait in a bounded line:
a burst (500 texters pressing the button together) is served, not refused. One more than the
line holds is answered `overloaded` at once, with `retry_after_ms`, and nothing of it is done:
issue #15's 20,000 requests queued without limit were answered up to 52 s late, each after its
caller had given up. A waiting request whose deadline passes is dropped when its turn comes
(shared/runtime/deadlines.py). Answers `overloaded` count in
`baton_requests_total{outcome="overloaded"}`.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

from prometheus_client import Gauge

from shared.contract.envelope import encode_error
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError

# What a refused caller is told to wait before trying again: about the time a slot takes to
# come free under load, long enough not to come back into the same full house at once.
RETRY_AFTER_MS = 250
# The part of the slots one subject may take; the rest stays free for the others.
SUBJECT_SHARE = 0.75
# The line: this many requests per slot, and no more bytes than the slots' largest requests; a
# request waits for at most about this many others to finish before it.
WAITING_PER_SLOT = 16
# What nats-py may hold for one subscription before its callback takes it (pending limits). The
# callback never waits (it starts a request, lines it up, answers `overloaded` or drops an
# expired one), so this holds only what arrives between two of its turns: room for a burst like
# issue #15's 20,000 small requests, and for a few of the largest size. Past either limit nats-py
# drops the message unanswered and the caller's timeout runs out; it was never accepted, nothing
# of it was done, and a retry is safe.
PENDING_MSGS_LIMIT = 32_768
PENDING_LARGEST_REQUESTS = 16

WAITING = Gauge(
    "baton_requests_waiting", "Requests accepted and waiting for a slot in flight.", ["service"]
)

JobT = TypeVar("JobT")


@dataclass(frozen=True)
class Waiting(Generic[JobT]):
    subject: str
    job: JobT
    deadline: int | None
    size: int


def overloaded_reply() -> bytes:
    return encode_error(
        BatonError(
            ErrorCode.OVERLOADED,
            "the service is at its limit of requests; try again later",
            {"retry_after_ms": RETRY_AFTER_MS},
        )
    )


class Admission(Generic[JobT]):
    """Slots for requests in flight and a bounded line for those waiting; nothing ever blocks."""

    def __init__(self, max_in_flight: int, max_request_bytes: int) -> None:
        self.limit = max_in_flight
        self.per_subject = max(1, int(max_in_flight * SUBJECT_SHARE))
        self.max_waiting = WAITING_PER_SLOT * max_in_flight
        self.max_waiting_bytes = max_in_flight * max_request_bytes
        self._held = 0
        self._by_subject: Tally[str] = Tally()
        # One line per subject, served in turn, so a flooded subject's line never stands
        # before another subject's request.
        self._lines: dict[str, deque[Waiting[JobT]]] = {}
        self.waiting = 0
        self._waiting_bytes = 0

    @property
    def held(self) -> int:
        return self._held

    def _free_for(self, subject: str) -> bool:
        return self._held < self.limit and self._by_subject[subject] < self.per_subject

    def _take(self, subject: str) -> None:
        self._held += 1
        self._by_subject[subject] += 1

    def take(self, subject: str) -> bool:
        """A slot for a request on `subject` now, or False when the process or its share is
        full, or others of `subject` wait before it."""
        if not self._free_for(subject) or self._lines.get(subject):
            return False
        self._take(subject)
        return True

    def wait(self, item: Waiting[JobT]) -> bool:
        """Line `item` up for a slot, or False when the line is full."""
        if self.waiting >= self.max_waiting or (
            self._waiting_bytes + item.size > self.max_waiting_bytes
        ):
            return False
        self._lines.setdefault(item.subject, deque()).append(item)
        self.waiting += 1
        self._waiting_bytes += item.size
        return True

    def give_back(self, subject: str) -> None:
        self._held -= 1
        self._by_subject[subject] -= 1

    def next_waiting(self) -> Waiting[JobT] | None:
        """The next request to start, its slot taken, or None when none may start now."""
        for subject in list(self._lines):
            if not self._free_for(subject):
                continue
            line = self._lines.pop(subject)
            item = line.popleft()
            if line:  # to the back: the subjects take turns
                self._lines[subject] = line
            self.waiting -= 1
            self._waiting_bytes -= item.size
            self._take(subject)
            return item
        return None
