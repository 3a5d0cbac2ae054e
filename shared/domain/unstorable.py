"""Strings Postgres cannot store: a NUL, which text and jsonb refuse.

JSON carries it as `\\u0000` and msgspec decodes it into `str`, so it reaches a handler looking
valid and fails only at the INSERT, as an error that would fail again on every retry. Found at the
edge instead, it is a `bad_request` naming the field (requests) or a dead letter on the first
delivery (JetStream), and nothing is written. (A lone surrogate, the other thing Postgres cannot
store, never gets this far: msgspec refuses to decode it.)
"""

from __future__ import annotations

from typing import Any

import msgspec

# A cheap test of the raw JSON before walking a decoded request: a NUL can only arrive escaped.
_ESCAPED_NUL = b"\\u0000"


def may_hold_unstorable(payload: bytes) -> bool:
    return _ESCAPED_NUL in payload


def unstorable_field(value: Any, path: str = "") -> str | None:
    """The path (`contacts[3].fields.note`) of the first string Postgres cannot store, if any."""
    if isinstance(value, str):
        return path or "(the value)" if "\x00" in value else None
    if isinstance(value, msgspec.Struct):
        for field, encoded in zip(
            value.__struct_fields__, value.__struct_encode_fields__, strict=True
        ):
            found = unstorable_field(getattr(value, field), _join(path, encoded))
            if found:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                return _join(path, "(a key)")
            found = unstorable_field(item, _join(path, str(key)))
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = unstorable_field(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
