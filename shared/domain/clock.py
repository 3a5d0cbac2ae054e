"""The one notion of "now" in Baton's code: a `Clock` is a function returning an aware UTC
datetime. Services take one (default `utc_now`) so that tests move time instead of waiting.
Statements take the time they are given; `coalesce($n, now())` in SQL is only for callers
outside the services (migrations, the operator's psql)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)
