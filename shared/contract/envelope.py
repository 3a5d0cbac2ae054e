"""The one reply envelope of every request/reply subject.

`{"ok": true, "data": {...}}` or `{"ok": false, "error": {"code": "...", "message": "..."}}`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError


class ErrorBody(msgspec.Struct, frozen=True):
    code: str
    message: str
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class Reply(msgspec.Struct, frozen=True, omit_defaults=True):
    ok: bool
    data: Any = None
    error: ErrorBody | None = None


_encoder = msgspec.json.Encoder()
_reply_decoder = msgspec.json.Decoder(Reply)


def encode_ok(data: Any) -> bytes:
    return _encoder.encode(Reply(ok=True, data=data))


def encode_error(error: BatonError) -> bytes:
    return _encoder.encode(
        Reply(ok=False, error=ErrorBody(error.code, error.message, error.details))
    )


def decode_reply(payload: bytes) -> Reply:
    return _reply_decoder.decode(payload)


def unwrap(payload: bytes) -> Any:
    """Return the data of an ok reply; raise the BatonError an error reply carries."""
    reply = decode_reply(payload)
    if reply.ok:
        return reply.data
    assert reply.error is not None
    raise refusal(reply.error)


def refusal(body: ErrorBody) -> BatonError:
    """The BatonError an error reply carries. A code this Baton does not know (a newer server's)
    becomes `internal`, the code it had kept in `details.code`."""
    try:
        return BatonError(ErrorCode(body.code), body.message, body.details)
    except ValueError:
        return BatonError(ErrorCode.INTERNAL, body.message, {**body.details, "code": body.code})
