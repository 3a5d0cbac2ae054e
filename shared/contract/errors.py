"""The refusal a Baton request can end in. Its code is one of shared/contract/error_codes.py's."""

from __future__ import annotations

from typing import Any

from shared.contract.error_codes import ErrorCode


class BatonError(Exception):
    """A refusal or failure that becomes `{"ok": false, "error": {...}}` in the reply."""

    def __init__(
        self, code: ErrorCode, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


def bad_request(message: str, **details: Any) -> BatonError:
    return BatonError(ErrorCode.BAD_REQUEST, message, details)


def not_found(what: str, identifier: object) -> BatonError:
    return BatonError(ErrorCode.NOT_FOUND, f"{what} {identifier} does not exist", {"what": what})


def forbidden(message: str) -> BatonError:
    return BatonError(ErrorCode.FORBIDDEN, message)


def not_a_member(user_ids: list[int], of_what: str) -> BatonError:
    """Some of the users named are not where the request needs them (an org, a campaign)."""
    return BatonError(
        ErrorCode.NOT_A_MEMBER, f"users {user_ids} are not {of_what}", {"user_ids": user_ids}
    )
