"""structlog set-up: JSON lines in production, a readable console when a person is watching."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from shared.runtime.log_limiter import RepeatLimiter

_PHONE = re.compile(r"\+?\d[\d\-\s().]{6,}\d")


def mask_phone(value: str) -> str:
    """Keep only the last two digits of anything that looks like a phone number."""
    return _PHONE.sub(lambda m: "*" * (len(m.group(0)) - 2) + m.group(0)[-2:], value)


def _mask_phones(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # Contacts' numbers are personal data: never write them to logs in full.
    for key in ("phone", "from_number", "to_number", "from", "to"):
        value = event.get(key)
        if isinstance(value, str):
            event[key] = mask_phone(value)
    return event


class _CurrentStderr:
    """Whatever `sys.stderr` is when a line is written, not when logging was configured: a
    stream replaced meanwhile (a test's capture, since closed) must not make every later line,
    and the loop that writes it, fail with "I/O operation on closed file". Each line arrives in
    one write (WriteLoggerFactory), so processes sharing a terminal or a file (`baton up`'s four
    services) never interleave halves of their lines."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _ToStructlog(logging.Handler):
    """Libraries' stdlib log records (asyncpg's pool upkeep, during an outage a traceback a
    second) through the same processors: JSON, phone masking, the repeat limiter."""

    def emit(self, record: logging.LogRecord) -> None:
        structlog.get_logger(record.name).log(
            record.levelno, record.getMessage(), logger=record.name, exc_info=record.exc_info
        )


# The libraries whose records go through structlog rather than stdlib's last-resort handler.
LIBRARY_LOGGERS = ("asyncpg", "nats")


def configure_logging(service: str, log_format: str = "auto", level: str = "info") -> None:
    use_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            # Before the timestamp: copies of a line differ in nothing else.
            RepeatLimiter(),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_phones,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.WriteLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.handlers = [h for h in library.handlers if not isinstance(h, _ToStructlog)]
        library.addHandler(_ToStructlog())
        library.propagate = False
