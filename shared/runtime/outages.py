"""Which failures mean "a server Baton needs is gone, or cannot serve right now": one
classification for the request layer, the pull workers, the outbox and the background loops.

Such a failure is `unavailable` to a caller, never `internal`, and a retry to a pull worker, never
a dead letter: the same request may well succeed a moment later. It does not say that nothing
happened. A connection cut after COMMIT was sent but before Postgres answered leaves the
transaction committed or not, and nobody on our side can tell which: retrying with the same
idempotency key is what makes that safe (docs/reliability.md, "When the answer is lost").

Anything not recognised here stays `internal`: a bug must not hide behind "try again".
"""

from __future__ import annotations

import asyncpg
import nats.errors
import nats.js.errors
from asyncpg.exceptions import _base as asyncpg_base

from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError

# Each of these means the outage whatever it says. For `except` clauses; where a predicate can be
# used, `is_unavailable` knows more (asyncpg's InterfaceError family, FATAL errors, causes).
UNAVAILABLE_TYPES: tuple[type[BaseException], ...] = (
    # Refused, reset, broken pipe, unreachable, DNS; TimeoutError (asyncio's and nats-py's
    # included) is an OSError since Python 3.11: a pool acquire or a command that took too long.
    OSError,
    # SQLSTATE class 08: the connection failed, was rejected or does not exist any more.
    asyncpg.PostgresConnectionError,
    # Class 57: admin shutdown (pg_terminate_backend, a fast stop), crash shutdown, "the database
    # system is starting up / shutting down", a cancelled statement, an idle session timed out.
    asyncpg.exceptions.OperatorInterventionError,
    # Class 53: too many connections, out of memory, disk full. The server is there but cannot
    # take this request now.
    asyncpg.exceptions.InsufficientResourcesError,
    # asyncpg lost its place in the protocol, nearly always because the connection was cut in the
    # middle of a message; also a statement cache made stale by a migration (a retry re-prepares).
    asyncpg.InternalClientError,
    asyncpg.exceptions.InvalidCachedStatementError,
    # Class 40 conflicts that Postgres asks the client to retry; and "statement completion
    # unknown", which is exactly the outcome-unknown case.
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.exceptions.StatementCompletionUnknownError,
    # lock_timeout or NOWAIT: someone else holds the row; ask again.
    asyncpg.LockNotAvailableError,
    # The server ended the session for idling in a transaction (PostgreSQL 17's transaction
    # timeout, which asyncpg before 0.30 does not name, is FATAL: see `_is_outage`).
    asyncpg.exceptions.IdleInTransactionSessionTimeoutError,
    # Baton never opens a read-only transaction itself, so this is a server that became a standby
    # under us: a failover in progress.
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    # The server cannot read or write its own files.
    asyncpg.exceptions.PostgresIOError,
    # NATS: the connection is closed, reconnecting, draining or stale, no server answers, the
    # reconnect buffer is full, or JetStream itself is unavailable (503, a stream electing its
    # leader, no stream listening).
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.ConnectionDrainingError,
    nats.errors.NoServersError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.NoRespondersError,
    nats.js.errors.ServiceUnavailableError,
    nats.js.errors.NoStreamResponseError,
)

# asyncpg's InterfaceError says "the client cannot talk to the server" ("connection is closed",
# "pool is closing", a connection released under a cancelled request), except for these
# subclasses, which are our own mistakes and stay mistakes however often they are retried.
_CLIENT_MISTAKES: tuple[type[BaseException], ...] = (
    asyncpg_base.DataError,  # an argument Postgres cannot encode: a bug, or input not checked
    asyncpg_base.ClientConfigurationError,
    asyncpg_base.UnsupportedClientFeatureError,
    asyncpg_base.UnsupportedServerFeatureError,
)

# Severities with which Postgres ends the session after reporting the error.
_SESSION_ENDING = frozenset({"FATAL", "PANIC"})


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` means a server is gone or cannot serve now: the same request may succeed
    later. A refusal (BatonError) is a decision, never an outage."""
    seen: set[int] = set()
    current: BaseException | None = exc
    # Follow explicit causes (`raise X from outage`), never mere context: an unrelated bug raised
    # while handling an outage is still a bug.
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_outage(current):
            return True
        current = current.__cause__
    return False


def _is_outage(exc: BaseException) -> bool:
    if isinstance(exc, BatonError):
        return False
    if isinstance(exc, BaseExceptionGroup):
        # Several tasks failed together (a TaskGroup): an outage only if every one of them was.
        return all(is_unavailable(member) for member in exc.exceptions)
    if isinstance(exc, UNAVAILABLE_TYPES):
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        return not isinstance(exc, _CLIENT_MISTAKES)
    if isinstance(exc, asyncpg.PostgresError):
        # Any error Postgres reports as FATAL or PANIC closes the session it arrived on, whatever
        # its SQLSTATE (an authentication failure after a password rotation, say).
        severity = getattr(exc, "severity_en", None) or getattr(exc, "severity", None)
        return severity in _SESSION_ENDING
    return False


def unavailable_error(exc: BaseException) -> BatonError:
    """The refusal a caller gets for an outage. Its message says what is true: the request may or
    may not have been carried out."""
    return BatonError(
        ErrorCode.UNAVAILABLE,
        "a server Baton needs is unavailable; the request may or may not have taken effect: "
        "retry it (with the same idempotency key, where the subject takes one)",
        {"cause": type(exc).__name__},
    )
