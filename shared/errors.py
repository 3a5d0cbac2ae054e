"""The errors a Baton request can end in. Each has a stable code that callers switch on."""

from __future__ import annotations

from typing import Any


class BatonError(Exception):
    """A refusal or failure that becomes `{"ok": false, "error": {...}}` in the reply."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


# Codes shared by every subject. Services add their own (`initials_pending`, `opted_out`, ...).
BAD_REQUEST = "bad_request"
# No token, or one that does not verify: the same code whatever was wrong with it.
UNAUTHENTICATED = "unauthenticated"
PAYLOAD_TOO_LARGE = "payload_too_large"
NOT_FOUND = "not_found"
FORBIDDEN = "forbidden"
CONFLICT = "conflict"
UNAVAILABLE = "unavailable"
# The service already holds all the work it takes, in flight and waiting (shared/admission.py);
# nothing was done. `details.retry_after_ms` says when to try again.
OVERLOADED = "overloaded"
INTERNAL = "internal"


def bad_request(message: str, **details: Any) -> BatonError:
    return BatonError(BAD_REQUEST, message, details)


def not_found(what: str, identifier: object) -> BatonError:
    return BatonError(NOT_FOUND, f"{what} {identifier} does not exist", {"what": what})


def forbidden(message: str) -> BatonError:
    return BatonError(FORBIDDEN, message)


def not_a_member(user_ids: list[int], of_what: str) -> BatonError:
    """Some of the users named are not where the request needs them (an org, a campaign)."""
    return BatonError("not_a_member", f"users {user_ids} are not {of_what}", {"user_ids": user_ids})
