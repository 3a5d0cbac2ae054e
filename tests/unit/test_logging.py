from __future__ import annotations

import io
import sys

import pytest
import structlog

from shared.runtime.logging import configure_logging, mask_phone


def test_phone_numbers_are_masked_to_their_last_two_digits() -> None:
    assert mask_phone("+14155550123") == "**********23"
    masked = mask_phone("reply from +1 415 555 0123 matched")
    assert masked == "reply from " + "*" * 13 + "23 matched"


def test_short_numbers_are_left_alone() -> None:
    assert mask_phone("campaign 12345") == "campaign 12345"


def test_lines_go_to_the_stderr_of_the_moment_not_to_one_closed_since(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A service configured while a test captured stderr kept writing to that capture after it
    closed, and the outbox loop died on "I/O operation on closed file"."""
    earlier, later = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", earlier)
    configure_logging("test", log_format="json")
    earlier.close()
    monkeypatch.setattr(sys, "stderr", later)
    try:
        structlog.get_logger("test").warning("still_written")
    finally:
        structlog.reset_defaults()
    assert '"still_written"' in later.getvalue()


def test_library_records_are_written_as_json_lines_through_the_limiter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """asyncpg's pool upkeep logs a traceback each retry through stdlib logging: those lines
    are JSON like ours, phone numbers masked, repeats left out."""
    import json
    import logging

    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    configure_logging("test", log_format="json")
    try:
        for _ in range(5):
            try:
                raise ConnectionRefusedError("Connect call failed for +14155550123")
            except ConnectionRefusedError:
                logging.getLogger("asyncpg.pool").warning("Failed to restore", exc_info=True)
    finally:
        structlog.reset_defaults()
        for name in ("asyncpg", "nats"):
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 1, lines
    assert lines[0]["event"] == "Failed to restore"
    assert lines[0]["logger"] == "asyncpg.pool"
    assert "ConnectionRefusedError" in lines[0]["exception"]
