"""Live progress of a simulated campaign: one line, redrawn in place on a terminal, printed every
few seconds when the output is a log or a pipe (so a CI log is not a wall of redraws)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True)
class Progress:
    seconds: float
    contacts: int
    by_status: dict[str, int]
    texts_sent: int
    replies: int
    released: int


def render(now: Progress, before: Progress | None) -> str:
    """`12s  initials 5,120/10,000 (51%)  needs reply 14  closed 3  texts 5,300 (420/s)
    replies 310  released 12`"""
    not_started = now.by_status.get("not_started", 0)
    reached = max(now.contacts - not_started, 0)
    share = reached * 100 // now.contacts if now.contacts else 100
    rate = ""
    if before is not None and now.seconds > before.seconds:
        per_second = (now.texts_sent - before.texts_sent) / (now.seconds - before.seconds)
        rate = f" ({per_second:,.0f}/s)"
    return (
        f"{now.seconds:>5.0f}s  initials {reached:,}/{now.contacts:,} ({share}%)"
        f"  needs reply {now.by_status.get('needs_reply', 0):,}"
        f"  closed {now.by_status.get('closed', 0):,}"
        f"  texts {now.texts_sent:,}{rate}  replies {now.replies:,}  released {now.released:,}"
    )


class ProgressLine:
    """Writes progress to `out` (stderr: stdout stays the report, or the JSON, alone)."""

    def __init__(
        self,
        out: TextIO,
        every_seconds_when_not_a_tty: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._out = out
        self._clock = clock
        self._tty = bool(getattr(out, "isatty", lambda: False)())
        self._every = every_seconds_when_not_a_tty
        self._last: Progress | None = None
        self._printed_at = -float("inf")
        self._width = 0

    def __call__(self, now: Progress) -> None:
        # The rate is over the interval since the line shown before: a second on a terminal,
        # ten seconds in a log.
        line = render(now, self._last)
        if self._tty:
            # Pad over the previous line's leftovers; \r returns to the start of the line.
            self._out.write("\r" + line.ljust(self._width))
            self._width = len(line)
        elif self._clock() - self._printed_at >= self._every:
            self._printed_at = self._clock()
            self._out.write(line + "\n")
        else:
            return
        self._last = now
        self._out.flush()

    def close(self) -> None:
        if self._tty and self._width:
            self._out.write("\n")
            self._out.flush()
