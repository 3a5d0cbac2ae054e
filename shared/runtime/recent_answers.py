"""Answers sent in the last few seconds, sent again once NATS has dropped and restored the
connection.

When nats-server cuts a service as a slow consumer (a flood of large requests: core NATS has no
flow control), the answers written into the connection in the moments before the cut are lost
with it, though their requests were carried out (issue #15 saw 4 to 8 of them a cut). Sending an
answer twice is harmless: a requester's inbox takes the first answer to a request and drops any
later one (nats-py and nats.js both match answers to requests by a token in the reply subject,
and forget the token once answered). So after a reconnect every answer sent in `window` seconds
before the connection was lost is sent again; a caller whose answer did arrive never sees the copy.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RecentAnswers:
    def __init__(
        self,
        window: float = 2.0,
        max_bytes: int = 8 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window
        self._max_bytes = max_bytes
        self._clock = clock
        self._answers: deque[tuple[float, str, bytes]] = deque()
        self._bytes = 0

    def sent(self, subject: str, payload: bytes) -> None:
        now = self._clock()
        self._answers.append((now, subject, payload))
        self._bytes += len(payload)
        # Kept: the last `window` seconds, and never more than `max_bytes` of them.
        while self._answers and (
            self._answers[0][0] < now - self._window or self._bytes > self._max_bytes
        ):
            self._bytes -= len(self._answers.popleft()[2])

    def sent_before(self, lost_at: float) -> list[tuple[str, bytes]]:
        """The answers sent in the window before the connection was lost, oldest first."""
        return [
            (subject, payload)
            for at, subject, payload in self._answers
            if lost_at - self._window <= at <= lost_at
        ]
