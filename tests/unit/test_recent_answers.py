"""What a service sends again after NATS cut and restored its connection: the answers of the
window before the cut, bounded in time and bytes."""

from __future__ import annotations

from shared.runtime.recent_answers import RecentAnswers


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_answers_sent_in_the_window_before_the_cut_are_sent_again_oldest_first() -> None:
    clock = Clock()
    recent = RecentAnswers(window=2.0, clock=clock)
    recent.sent("_INBOX.a.1", b"too old")
    clock.now += 3.0
    recent.sent("_INBOX.a.2", b"first")
    clock.now += 1.0
    recent.sent("_INBOX.a.3", b"second")
    lost_at = clock.now
    clock.now += 0.5
    recent.sent("_INBOX.a.4", b"after the cut: buffered by nats-py, not lost")
    assert recent.sent_before(lost_at) == [("_INBOX.a.2", b"first"), ("_INBOX.a.3", b"second")]


def test_no_more_than_max_bytes_are_kept() -> None:
    clock = Clock()
    recent = RecentAnswers(window=60.0, max_bytes=1_000, clock=clock)
    for n in range(100):
        recent.sent(f"_INBOX.b.{n}", b"x" * 100)
    kept = recent.sent_before(clock.now)
    assert len(kept) == 10
    assert kept[-1][0] == "_INBOX.b.99"
