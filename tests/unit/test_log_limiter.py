"""Repeated identical log lines are written once a window, with a count of those left out."""

from __future__ import annotations

from typing import Any

import pytest
import structlog

from shared.runtime.log_limiter import MAX_REMEMBERED, RepeatLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _written(limiter: RepeatLimiter, **event: Any) -> dict[str, Any] | None:
    try:
        return dict(limiter(None, "warning", dict(event)))
    except structlog.DropEvent:
        return None


def test_copies_within_the_window_are_counted_and_reported_by_the_next_line_written() -> None:
    clock = Clock()
    limiter = RepeatLimiter(window=10.0, clock=clock)
    line = {"event": "consumer_retry", "log_level": "warning", "consumer": "receipts"}
    assert _written(limiter, **line, attempt=1) == {**line, "attempt": 1}
    for attempt in range(2, 552):  # the 550 a second, for one second
        clock.now += 1 / 550
        assert _written(limiter, **line, attempt=attempt) is None
    clock.now += 10.0
    assert _written(limiter, **line, attempt=999) == {**line, "attempt": 999, "repeated": 550}
    clock.now += 0.5
    assert _written(limiter, **line) is None


def test_lines_that_differ_in_what_they_say_are_each_written() -> None:
    limiter = RepeatLimiter(window=10.0, clock=Clock())
    assert _written(limiter, event="fetch_failed", consumer="inbound-sms")
    assert _written(limiter, event="fetch_failed", consumer="receipts")
    assert _written(limiter, event="fetch_failed", consumer="receipts", error="timeout")
    assert _written(limiter, event="outbox_unavailable", consumer="receipts")


def test_a_timestamp_or_a_drawn_delay_does_not_make_a_line_new() -> None:
    limiter = RepeatLimiter(window=10.0, clock=Clock())
    assert _written(limiter, event="consumer_backing_off", delay_s=0.3, timestamp="t1")
    assert _written(limiter, event="consumer_backing_off", delay_s=0.7, timestamp="t2") is None


def test_memory_stays_bounded_however_many_distinct_lines() -> None:
    limiter = RepeatLimiter(window=10.0, clock=Clock())
    for n in range(MAX_REMEMBERED + 500):
        assert _written(limiter, event="distinct", n=n)
    assert len(limiter._seen) <= MAX_REMEMBERED + 1


@pytest.mark.parametrize("level", ["info", "error"])
def test_every_level_is_limited(level: str) -> None:
    limiter = RepeatLimiter(window=10.0, clock=Clock())
    assert _written(limiter, event="same", log_level=level)
    assert _written(limiter, event="same", log_level=level) is None


def test_tracebacks_of_different_exceptions_are_different_lines() -> None:
    limiter = RepeatLimiter(window=10.0, clock=Clock())
    for exc in (ValueError("bug one"), KeyError("bug two")):
        try:
            raise exc
        except Exception:
            assert _written(limiter, event="request_failed", subject="s", exc_info=True)
    try:
        raise ValueError("bug one")
    except Exception:
        assert _written(limiter, event="request_failed", subject="s", exc_info=True) is None


def test_changes_of_state_are_always_written() -> None:
    limiter = RepeatLimiter(window=10.0, clock=Clock())
    for _ in range(3):
        assert _written(limiter, event="nats_disconnected", url="nats://x")
        assert _written(limiter, event="nats_reconnected", url="nats://x")
        assert _written(limiter, event="service_ready")
