"""Strings Postgres cannot store: a NUL (text and jsonb refuse it) or a lone surrogate (not UTF-8).

JSON can carry both (`\\u0000`, `\\ud800`) and msgspec decodes them into `str`, so they reach a
handler looking valid and fail only at the INSERT, as an error that would fail again on every
retry. Found at the edge instead, they are a `bad_request` naming the field (requests) or a dead
letter on the first delivery (JetStream), and nothing is written.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Cheap test on the raw JSON before walking a decoded request: both can only arrive escaped.
_ESCAPED = re.compile(rb"\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def may_hold_unstorable(payload: bytes) -> bool:
    return _ESCAPED.search(payload) is not None


def unstorable_field(value: Any, path: str = "") -> str | None:
    """The path (`contacts[3].fields.note`) of the first string Postgres cannot store, if any."""
    if isinstance(value, str):
        return path or "(the value)" if _UNSTORABLE.search(value) else None
    if isinstance(value, msgspec.Struct):
        for field, encoded in zip(value.__struct_fields__, value.__struct_encode_fields__,
                                  strict=True):  # fmt: skip
            found = unstorable_field(getattr(value, field), _join(path, encoded))
            if found:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _UNSTORABLE.search(key):
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
