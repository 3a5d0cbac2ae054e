"""When a caller stops waiting: the `Baton-Deadline` header, declared here once.

A request may carry `Baton-Deadline: <unix epoch milliseconds>`, the moment its caller gives up
(the clients set it from their timeout: tools/cli/client.py, tests/support/baton_client.py). A
service drops a request whose deadline has passed before doing any of its work, and sends no
answer: nobody is listening for it any more (shared/runtime/endpoints.py).

An absolute time, not a relative timeout: the time a request spends queued in NATS and in the
client library is exactly what the service cannot see, and what made issue #15's answers arrive
24 s after their callers had given up. It assumes clocks kept by NTP; a service whose clock runs
ahead by `s` drops requests `s` early, one behind does their work up to `s` late. A header that
is missing or unreadable means no deadline, as before deadlines existed.
"""

from __future__ import annotations

import time

from prometheus_client import Counter

DEADLINE_HEADER = "Baton-Deadline"

EXPIRED = Counter(
    "baton_requests_expired_total",
    "Requests dropped unanswered because their Baton-Deadline had passed before work began.",
    ["service", "subject"],
)


def now_ms() -> int:
    """Whole milliseconds since the epoch, the header's unit; deadlines are read by this clock."""
    return time.time_ns() // 1_000_000


def deadline_header(timeout_seconds: float) -> dict[str, str]:
    """The header for a caller that waits `timeout_seconds` from now."""
    return {DEADLINE_HEADER: str(now_ms() + int(timeout_seconds * 1000))}


# Deadlines before this (2001-09-09 in epoch milliseconds) are not milliseconds at all: a
# deadline in seconds, or 0, would otherwise drop every request unanswered, and the caller would
# see only timeouts. Such a header is unreadable, like any other: the request is served.
EARLIEST_MS = 10**12


def deadline_of(headers: dict[str, str] | None) -> int | None:
    """The request's deadline in epoch milliseconds, or None when it carries no readable one."""
    raw = (headers or {}).get(DEADLINE_HEADER)
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 15:
        return None
    deadline = int(raw)
    return deadline if deadline >= EARLIEST_MS else None


def passed(deadline: int | None) -> bool:
    """Whether the caller has stopped waiting: work starting now would be for nobody."""
    return deadline is not None and now_ms() > deadline


class DeadlinePassedError(Exception):
    """Raised instead of running a handler whose caller has stopped waiting."""
