"""The base of every request: unknown fields are refused, so a typo is an error, not a no-op."""

from __future__ import annotations

from typing import Annotated

import msgspec


class Request(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of every request body."""


class Message(msgspec.Struct, kw_only=True):
    """Base of every reply body and event."""


# Database identifiers: positive bigints.
Id = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
