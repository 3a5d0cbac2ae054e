"""Repeated identical log lines, rate-limited: the first one is written, copies within the next
`window` seconds are counted instead, and the first line written after the window says how many
were left out (`repeated`).

During an outage every message a worker touches fails the same way; the issue saw 80 MB of logs
in 11 minutes from one consumer. A line is "identical" when its event, level and fields are, apart
from those that change on every copy (the timestamp, an attempt counter, a drawn delay).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog

# Fields that differ between copies of what is, to a reader, the same line.
VOLATILE_FIELDS = frozenset(
    {"timestamp", "attempt", "attempts", "delay_s", "repeated", "exc_info"}
)  # the exception itself is keyed below
# Distinct lines remembered at once; past this the oldest are forgotten (and written again).
MAX_REMEMBERED = 4096
# Changes of state, always written: rare, and the last one seen must be the true one (a
# disconnect after a reconnect must not be left out as a copy of the one before).
ALWAYS_WRITTEN = frozenset({"nats_disconnected", "nats_reconnected", "nats_closed"})
ALWAYS_WRITTEN_PREFIXES = ("service_",)


class RepeatLimiter:
    """A structlog processor; keep it before the TimeStamper and the renderer."""

    def __init__(self, window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        # line -> (when it was last written, copies left out since)
        self._seen: dict[tuple[Any, ...], tuple[float, int]] = {}

    def __call__(
        self, _: Any, __: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        name = str(event.get("event", ""))
        if name in ALWAYS_WRITTEN or name.startswith(ALWAYS_WRITTEN_PREFIXES):
            return event
        key = _line_key(event)
        now = self._clock()
        written = self._seen.get(key)
        if written is not None and now - written[0] < self._window:
            self._seen[key] = (written[0], written[1] + 1)
            raise structlog.DropEvent
        if written is not None and written[1]:
            event["repeated"] = written[1]
        self._seen.pop(key, None)
        self._seen[key] = (now, 0)
        if len(self._seen) > MAX_REMEMBERED:
            del self._seen[next(iter(self._seen))]
        return event


def _line_key(event: MutableMapping[str, Any]) -> tuple[Any, ...]:
    fields = sorted(
        (name, repr(value)) for name, value in event.items() if name not in VOLATILE_FIELDS
    )
    # `exc_info=True` looks the same for every traceback: the exception itself tells two apart.
    exc_info = event.get("exc_info")
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        fields.append(("exception", f"{type(exc_info).__name__}: {exc_info}"))
    elif isinstance(exc_info, tuple) and len(exc_info) == 3 and exc_info[1] is not None:
        fields.append(("exception", f"{type(exc_info[1]).__name__}: {exc_info[1]}"))
    return tuple(fields)
