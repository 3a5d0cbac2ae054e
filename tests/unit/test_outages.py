"""shared/runtime/outages.py over every asyncpg exception class: what means "the server is gone or
cannot serve now" is `unavailable` (and a retry for a pull worker), everything else stays a bug or a
refusal. The request layer answers with that classification."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import nats.errors
import nats.js.errors
import pytest
from asyncpg.exceptions import _base as asyncpg_base

from shared.contract.access_policy import PUBLIC
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError, bad_request
from shared.contract.schemas.base import Request
from shared.runtime.access import Caller
from shared.runtime.endpoints import Endpoint, answer
from shared.runtime.outages import is_unavailable, unavailable_error

# SQLSTATE classes and codes that mean an outage (shared/runtime/outages.py says why for each).
OUTAGE_CLASSES = {"08", "53", "57"}
OUTAGE_CODES = {"40001", "40P01", "40003", "55P03", "25P03", "25006", "58030"}
# 25P04 (transaction_timeout) is an outage too, but as the FATAL error it always arrives as.


def _postgres_error_classes() -> list[type[asyncpg.PostgresError]]:
    found = []
    for name in dir(asyncpg.exceptions):
        kind = getattr(asyncpg.exceptions, name)
        if (
            isinstance(kind, type)
            and issubclass(kind, asyncpg.PostgresError)
            and isinstance(getattr(kind, "sqlstate", None), str)
        ):
            found.append(kind)
    return sorted(found, key=lambda kind: kind.__name__)


POSTGRES_ERRORS = _postgres_error_classes()


def test_there_are_postgres_error_classes_to_classify() -> None:
    assert len(POSTGRES_ERRORS) > 200  # every SQLSTATE asyncpg knows
    named = {kind.__name__ for kind in POSTGRES_ERRORS}
    assert {"AdminShutdownError", "CannotConnectNowError", "TooManyConnectionsError",
            "ConnectionDoesNotExistError", "UniqueViolationError"} <= named  # fmt: skip


@pytest.mark.parametrize("kind", POSTGRES_ERRORS, ids=lambda kind: kind.__name__)
def test_every_postgres_error_class_is_classified_by_its_sqlstate(
    kind: type[asyncpg.PostgresError],
) -> None:
    sqlstate = kind.sqlstate
    # A prepared statement a migration made stale shares 0A000 with "feature not supported";
    # asyncpg tells them apart by the message, and a retry re-prepares it.
    stale_plan = kind is asyncpg.exceptions.InvalidCachedStatementError
    expected = sqlstate[:2] in OUTAGE_CLASSES or sqlstate in OUTAGE_CODES or stale_plan
    # As asyncpg raises them: built from the server's fields, severity ERROR.
    error = asyncpg.PostgresError.new({"C": sqlstate, "S": "ERROR", "V": "ERROR", "M": "x"})
    assert type(error) is kind or stale_plan
    assert is_unavailable(error) is (expected and not stale_plan), (kind.__name__, sqlstate)
    # Constructed directly (no severity at all), the class alone decides.
    assert is_unavailable(kind("x")) is expected


def test_the_outages_named_in_the_issue_are_unavailable() -> None:
    for error in (
        asyncpg.InternalClientError("got result for unknown protocol state 3"),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        asyncpg.InterfaceError("pool is closing"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.PostgresConnectionError("connection failure"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.ProtocolError("unexpected message"),
        asyncpg.exceptions.OutdatedSchemaCacheError("cached statement plan is invalid"),
        asyncpg.exceptions.TargetServerAttributeNotMatched("not a primary"),
        OSError("Network is unreachable"),
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionResetError("Connection reset by peer"),
        BrokenPipeError(),
        TimeoutError(),  # asyncio's TimeoutError is this one since Python 3.11
    ):
        assert is_unavailable(error), repr(error)


def test_any_fatal_error_ends_the_session_and_is_unavailable() -> None:
    timeout = asyncpg.PostgresError.new({"C": "25P04", "S": "FATAL", "V": "FATAL", "M": "x"})
    assert is_unavailable(timeout)
    # A password rotated under a running service: 28P01 is not an outage class, but FATAL is.
    fatal = asyncpg.PostgresError.new({"C": "28P01", "S": "FATAL", "V": "FATAL", "M": "x"})
    assert type(fatal) is asyncpg.InvalidPasswordError
    assert is_unavailable(fatal)
    not_fatal = asyncpg.PostgresError.new({"C": "28P01", "S": "ERROR", "V": "ERROR", "M": "x"})
    assert not is_unavailable(not_fatal)


def test_our_own_mistakes_in_the_interface_family_stay_mistakes() -> None:
    for error in (
        asyncpg_base.DataError("invalid input for query argument $1: 'x' (an int is required)"),
        asyncpg_base.ClientConfigurationError("invalid DSN"),
        asyncpg_base.UnsupportedClientFeatureError("x"),
        asyncpg_base.UnsupportedServerFeatureError("x"),
    ):
        assert not is_unavailable(error), repr(error)


def test_bugs_and_refusals_are_not_outages() -> None:
    for error in (
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.InternalServerError("XX000"),
        asyncpg.exceptions.DataCorruptedError("XX001"),
        ValueError("x"),
        KeyError("x"),
        AssertionError(),
        RuntimeError("x"),
        BatonError(ErrorCode.UNAVAILABLE, "even a BatonError with this code is a decision"),
        bad_request("x"),
        nats.js.errors.BadRequestError(),
        nats.errors.MaxPayloadError(),
    ):
        assert not is_unavailable(error), repr(error)


def test_nats_going_away_is_unavailable() -> None:
    for error in (
        nats.errors.ConnectionClosedError(),
        nats.errors.ConnectionReconnectingError(),
        nats.errors.ConnectionDrainingError(),
        nats.errors.NoServersError(),
        nats.errors.StaleConnectionError(),
        nats.errors.UnexpectedEOF(),
        nats.errors.OutboundBufferLimitError(),
        nats.errors.NoRespondersError(),
        nats.errors.TimeoutError(),
        nats.errors.FlushTimeoutError(),
        nats.js.errors.ServiceUnavailableError(),
        nats.js.errors.NoStreamResponseError(),
    ):
        assert is_unavailable(error), repr(error)


def _raised(error: BaseException, cause: BaseException | None = None) -> BaseException:
    try:
        raise error from cause
    except BaseException as caught:
        return caught


def test_explicit_causes_count_and_mere_context_does_not() -> None:
    outage = asyncpg.ConnectionDoesNotExistError("gone")
    assert is_unavailable(_raised(RuntimeError("wrapped"), outage))
    try:
        try:
            raise outage
        except asyncpg.ConnectionDoesNotExistError:
            raise KeyError("a bug while handling the outage") from None
    except KeyError as bug:
        assert bug.__context__ is outage
        assert not is_unavailable(bug)


def test_a_group_is_an_outage_only_when_every_member_is() -> None:
    assert is_unavailable(ExceptionGroup("x", [OSError(), asyncpg.AdminShutdownError("x")]))
    assert not is_unavailable(ExceptionGroup("x", [OSError(), ValueError("x")]))


def test_the_refusal_says_the_outcome_is_unknown() -> None:
    refusal = unavailable_error(asyncpg.ConnectionDoesNotExistError("gone"))
    assert refusal.code == "unavailable"
    assert "may or may not have taken effect" in refusal.message
    assert refusal.details == {"cause": "ConnectionDoesNotExistError"}


class Nothing(Request):
    pass


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (asyncpg.InterfaceError("connection is closed"), "unavailable"),
        (asyncpg.InternalClientError("unknown protocol state"), "unavailable"),
        (asyncpg.ConnectionDoesNotExistError("gone"), "unavailable"),
        (asyncpg.AdminShutdownError("terminating connection"), "unavailable"),
        (ConnectionResetError(), "unavailable"),
        (asyncpg_base.DataError("invalid input for query argument"), "internal"),
        (ZeroDivisionError(), "internal"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else value,
)
async def test_the_request_layer_answers_with_the_classification(
    error: BaseException, code: str
) -> None:
    async def handler(_: Nothing, __: Caller) -> dict[str, Any]:
        raise error

    reply, outcome = await answer(Endpoint("t", Nothing, handler, PUBLIC), b"{}", 1024)
    assert outcome == code
    assert json.loads(reply)["error"]["code"] == code
