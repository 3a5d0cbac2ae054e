"""Request/reply subjects: verify the caller, decode with msgspec, call the handler, answer in the
one envelope.

The caller comes only from the `Authorization: Bearer <JWT>` header, verified before the payload
is read (shared/runtime/tokens.py); a request without a valid token gets `unauthenticated` and
reaches no handler. A malformed request gets `bad_request` saying what was wrong; a handler's
refusal gets its own code; an outage of Postgres or NATS gets `unavailable`
(shared/runtime/outages.py), whose outcome is unknown; nothing a caller sends can crash the service
or leave it without an answer.

Load is bounded: a request whose `Baton-Deadline` has passed is dropped unanswered before any
work (shared/runtime/deadlines.py); beyond the work in flight the process takes, requests wait in a
bounded line, and one more is answered `overloaded` at once (shared/runtime/admission.py). A request
in flight or in the line is accepted: it is kept in this process whatever NATS does meanwhile, run
unless its deadline passes first, and answered (after a reconnect, if NATS dropped us as a slow
consumer); an answer lost with the connection leaves the caller's timeout to tell it to retry,
with the same idempotency key. A request not accepted when a connection drops was never
started, so its retry is safe (docs/reliability.md, "Load").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from shared.contract.access_policy import NOT_FOR_OPERATOR, Access
from shared.contract.catalogue import Route
from shared.contract.envelope import encode_error, encode_ok
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError, bad_request, forbidden
from shared.domain.unstorable import may_hold_unstorable, unstorable_field
from shared.runtime import failpoints, metrics
from shared.runtime.access import Caller
from shared.runtime.admission import (
    PENDING_LARGEST_REQUESTS,
    PENDING_MSGS_LIMIT,
    WAITING,
    Admission,
    Waiting,
    overloaded_reply,
)
from shared.runtime.deadlines import EXPIRED, DeadlinePassedError, deadline_of, passed
from shared.runtime.outages import is_unavailable, unavailable_error
from shared.runtime.recent_answers import RecentAnswers
from shared.runtime.settings import INBOX_REPLY
from shared.runtime.tokens import AUTHORIZATION_HEADER, Identity, TokenVerifier

log = structlog.get_logger(__name__)

RequestT = TypeVar("RequestT")
ReplyT = TypeVar("ReplyT")


ANONYMOUS = Identity(subject="", user_id=None)


@dataclass(frozen=True)
class Endpoint(Generic[RequestT]):
    subject: str
    request_type: type[RequestT]
    handler: Callable[[RequestT, Caller], Awaitable[Any]]
    access: Access

    def caller(self, headers: dict[str, str] | None, verifier: TokenVerifier | None) -> Caller:
        """Who is calling, verified before anything of the payload is read."""
        if self.access.public:
            return Caller(ANONYMOUS, self.access)
        if verifier is None:  # a service always has one; this keeps a misconfiguration closed
            raise BatonError(ErrorCode.INTERNAL, "no token verifier is configured")
        identity = verifier.verify(_authorization(headers))
        if identity.operator and not self.access.operator:
            raise forbidden(NOT_FOR_OPERATOR)
        if not identity.operator and self.access.role is None:
            raise forbidden("only the deployment's operator may do this")
        return Caller(identity, self.access)

    def decode(self, payload: bytes) -> RequestT:
        try:
            request = msgspec.json.decode(payload, type=self.request_type)
        except msgspec.ValidationError as exc:
            raise bad_request(f"invalid request: {exc}") from None
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            # msgspec raises UnicodeDecodeError, not DecodeError, for bytes in a string that are
            # not UTF-8.
            raise bad_request(f"request is not valid JSON: {exc}") from None
        except RecursionError:
            # An unknown field nested thousands deep: msgspec recurses to skip it.
            raise bad_request("request is nested too deeply") from None
        if may_hold_unstorable(payload) and (field := unstorable_field(request)):
            raise bad_request(f"invalid request: `{field}` holds a NUL", field=field)
        return request


def bound(
    route: Route[RequestT, ReplyT], handler: Callable[[RequestT, Caller], Awaitable[ReplyT]]
) -> Endpoint[RequestT]:
    """`handler` serving the catalogue's `route`: mypy checks that it takes the route's request
    type and returns its reply type; who may call is the route's."""
    return Endpoint(route.subject, route.request, handler, route.access)


def _authorization(headers: dict[str, str] | None) -> str | None:
    """The Authorization header, its name matched without regard to case as in HTTP. Two of
    them (`Authorization` and `authorization`) are ambiguous and count as none."""
    wanted = AUTHORIZATION_HEADER.lower()
    found = [v for k, v in (headers or {}).items() if k.lower() == wanted]
    return found[0] if len(found) == 1 else None


async def answer(
    endpoint: Endpoint[Any],
    payload: bytes,
    max_bytes: int,
    headers: dict[str, str] | None = None,
    verifier: TokenVerifier | None = None,
    deadline: int | None = None,
) -> tuple[bytes, str]:
    """Run one request through `endpoint`; return the reply payload and the outcome label.
    Raises DeadlinePassedError, having done nothing, when `deadline` (epoch ms) passed first."""
    try:
        caller = endpoint.caller(headers, verifier)
        if len(payload) > max_bytes:
            raise BatonError(
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"request is {len(payload)} bytes; the limit is {max_bytes}",
                {"limit": max_bytes},
            )
        request = endpoint.decode(payload)
        # The last moment to give up for free: verifying and decoding took time, the handler
        # may commit.
        if passed(deadline):
            raise DeadlinePassedError
        return encode_ok(await endpoint.handler(request, caller)), "ok"
    except BatonError as refusal:
        return encode_error(refusal), refusal.code
    except DeadlinePassedError:
        raise
    except Exception as exc:
        if is_unavailable(exc):
            # Postgres or NATS went away under the request. Whether it took effect is unknown
            # (a COMMIT may have landed before the connection died): the caller retries.
            outage = unavailable_error(exc)
            log.warning(
                "request_unavailable",
                subject=endpoint.subject,
                cause=type(exc).__name__,
                error=str(exc),
            )
            return encode_error(outage), outage.code
        log.exception("request_failed", subject=endpoint.subject)
        return encode_error(
            BatonError(ErrorCode.INTERNAL, "internal error; it has been logged")
        ), ErrorCode.INTERNAL


class RequestServer:
    """Serves a set of endpoints in a queue group, at most `max_in_flight` requests at once;
    beyond that a bounded line, then `overloaded` (shared/runtime/admission.py)."""

    def __init__(
        self,
        nc: NatsClient,
        service: str,
        endpoints: list[Endpoint[Any]],
        *,
        queue: str,
        max_in_flight: int,
        max_request_bytes: int,
        verifier: TokenVerifier | None,
    ) -> None:
        self._nc = nc
        self._service = service
        self._endpoints = endpoints
        self._queue = queue
        self._admission: Admission[tuple[Endpoint[Any], Msg]] = Admission(
            max_in_flight, max_request_bytes
        )
        self._max_request_bytes = max_request_bytes
        self._verifier = verifier
        self._subscriptions: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._recent = RecentAnswers()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def start(self) -> None:
        for endpoint in self._endpoints:
            sub = await self._nc.subscribe(
                endpoint.subject,
                queue=self._queue,
                cb=self._callback(endpoint),
                pending_msgs_limit=PENDING_MSGS_LIMIT,
                pending_bytes_limit=PENDING_LARGEST_REQUESTS * self._max_request_bytes,
            )
            self._subscriptions.append(sub)
        # Make sure the server has every subscription before we call ourselves ready.
        await self._nc.flush()

    def _callback(self, endpoint: Endpoint[Any]) -> Callable[[Msg], Awaitable[None]]:
        async def on_message(msg: Msg) -> None:
            # Never waits: whatever waited here would wait in nats-py's buffer, unbounded by
            # anything of ours, and be served after its caller gave up (issue #15).
            deadline = deadline_of(msg.headers)
            if passed(deadline):
                EXPIRED.labels(self._service, endpoint.subject).inc()
            elif self._admission.take(endpoint.subject):
                self._start(endpoint, msg, deadline)
            elif self._admission.wait(
                Waiting(endpoint.subject, (endpoint, msg), deadline, len(msg.data))
            ):
                WAITING.labels(self._service).set(self._admission.waiting)
            else:
                await self._refuse(endpoint, msg)

        return on_message

    def _start(self, endpoint: Endpoint[Any], msg: Msg, deadline: int | None) -> None:
        task = asyncio.create_task(self._serve(endpoint, msg, deadline))
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(done, endpoint.subject))

    async def _refuse(self, endpoint: Endpoint[Any], msg: Msg) -> None:
        metrics.REQUESTS.labels(self._service, endpoint.subject, ErrorCode.OVERLOADED).inc()
        if INBOX_REPLY.match(msg.reply or ""):
            try:
                await self._answer(msg.reply, overloaded_reply())
            except Exception as exc:  # NATS gone: the caller's timeout tells it the same
                log.debug("overloaded_reply_failed", error=str(exc))

    def _finished(self, task: asyncio.Task[None], subject: str) -> None:
        self._tasks.discard(task)
        self._admission.give_back(subject)
        while (item := self._admission.next_waiting()) is not None:
            endpoint, msg = item.job
            if passed(item.deadline):  # its caller gave up while it waited
                self._admission.give_back(item.subject)
                EXPIRED.labels(self._service, item.subject).inc()
                continue
            self._start(endpoint, msg, item.deadline)
        WAITING.labels(self._service).set(self._admission.waiting)

    async def _serve(self, endpoint: Endpoint[Any], msg: Msg, deadline: int | None) -> None:
        started = time.perf_counter()
        metrics.IN_FLIGHT.labels(self._service).inc()
        try:
            if not INBOX_REPLY.match(msg.reply or ""):
                # NATS lets a requester name any reply subject and `allow_responses` lets us
                # publish there once: a request that does not come from an inbox is neither
                # carried out nor answered, so no client can aim our answer at a stream
                # (baton.inbound.sms, baton.outbound.sms) or act without hearing back.
                outcome = "reply_refused"
                log.warning("reply_subject_refused", subject=endpoint.subject, reply=msg.reply)
            else:
                reply, outcome = await answer(
                    endpoint,
                    msg.data,
                    self._max_request_bytes,
                    msg.headers,
                    self._verifier,
                    deadline,
                )
                if outcome == "ok":
                    failpoints.reached(f"{endpoint.subject}:before_reply")
                await self._answer(msg.reply, reply)
        except DeadlinePassedError:
            # Its caller has stopped waiting: nothing done, nothing answered.
            EXPIRED.labels(self._service, endpoint.subject).inc()
            return
        except Exception:
            outcome = ErrorCode.INTERNAL
            log.exception("reply_failed", subject=endpoint.subject)
        finally:
            metrics.IN_FLIGHT.labels(self._service).dec()
        metrics.REQUESTS.labels(self._service, endpoint.subject, outcome).inc()
        metrics.REQUEST_SECONDS.labels(self._service, endpoint.subject).observe(
            time.perf_counter() - started
        )

    async def _answer(self, reply_subject: str, payload: bytes) -> None:
        # Not msg.respond(): it sends the request's headers back, bearer token included.
        await self._nc.publish(reply_subject, payload)
        self._recent.sent(reply_subject, payload)

    async def resend_recent(self, lost_at: float) -> None:
        """After a reconnect: the answers sent just before the connection was lost, again, for
        those that were lost with it (shared/runtime/recent_answers.py)."""
        answers = self._recent.sent_before(lost_at)
        for reply_subject, payload in answers:
            try:
                await self._nc.publish(reply_subject, payload)
            except Exception as exc:  # lost again: the caller's timeout tells it to retry
                log.debug("answer_resend_failed", error=str(exc))
                return
        if answers:
            metrics.ANSWERS_RESENT.labels(self._service).inc(len(answers))
            log.info("answers_resent", answers=len(answers))

    async def stop(self, grace_seconds: float) -> None:
        """Stop taking requests, then let the accepted ones finish (up to the grace period)."""
        for sub in self._subscriptions:
            try:
                await sub.unsubscribe()
            except Exception as exc:  # a closed connection has nothing left to unsubscribe
                log.debug("unsubscribe_failed", error=str(exc))
        self._subscriptions.clear()
        # Requests in the line start as those in flight finish: wait for them too.
        end = time.monotonic() + grace_seconds
        while self._tasks and (left := end - time.monotonic()) > 0:
            await asyncio.wait(set(self._tasks), timeout=left)
