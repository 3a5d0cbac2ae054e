"""The one client of Baton's request/reply subjects: `call(route, request) -> reply`.

Used by the CLI, the simulation, the benchmarks and the tests (bench/blocking_nats.py wraps it
for Locust). A call carries the caller's identity (a bearer token from `Credentials`, fresh for
each request), a deadline (the `Baton-Deadline` header: the service does nothing for a caller
who stopped waiting) and a retry policy that never repeats what could take effect twice.

`call` takes and returns the route's msgspec types, checked by mypy against the catalogue.
`call_json` sends a mapping as it is and returns the reply's data as plain JSON values: for
callers that build requests from text (the CLI's options) and for tests that must send what
the types would refuse.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import msgspec
from nats.aio.client import Client as NatsClient
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from shared.contract.catalogue import Route
from shared.contract.envelope import unwrap
from shared.contract.error_codes import ErrorCode, Retry
from shared.contract.errors import BatonError
from shared.runtime.backoff import Backoff
from shared.runtime.deadlines import deadline_header

RequestT = TypeVar("RequestT")
ReplyT = TypeVar("ReplyT")

# Refusals that say nothing was done: repeating the request is safe on any subject.
_NOTHING_DONE = frozenset({ErrorCode.OVERLOADED, ErrorCode.BUSY})


class NoServiceError(NoRespondersError):
    """Nothing listened on the subject for as long as the caller would wait: no service of that
    kind is running (or reachable) on this NATS. Nothing received the request."""

    def __init__(self, subject: str, waited_seconds: float) -> None:
        super().__init__()
        self.subject = subject
        self.waited_seconds = waited_seconds

    def __str__(self) -> str:
        return f"no service answers {self.subject} (waited {self.waited_seconds:.0f} s)"


class Credentials(Protocol):
    def headers(self) -> dict[str, str]:
        """The NATS headers of one request (its `Authorization`)."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    """When a call is sent again. A refusal is retried only when its code says a retry of the
    same request can help (`Retry.NOW`); an outcome that may have taken effect (a timeout, no
    answer, `unavailable`) only on a retry-safe route, unless `resend_unsafe`."""

    give_up_after_seconds: float = 0.0  # 0: never retry
    first_pause_seconds: float = 0.25
    longest_pause_seconds: float = 5.0
    # The caller checks for itself what a resent request did (the simulation does: a batch it
    # did get shows as conversations it holds).
    resend_unsafe: bool = False
    # How long a request is sent again while nothing listens on its subject (NATS `no
    # responders`), on any route: nothing received it, so nothing was done. The retries above
    # also cover it where they apply, whichever is longer.
    no_responders_seconds: float = 0.0
    # Told once, with the subject, when a call starts waiting for a service to listen.
    waiting_for: Callable[[str], None] | None = None


NO_RETRY = RetryPolicy()
# A texter's app: rides out a service restart or an outage of a minute or two.
PATIENT = RetryPolicy(give_up_after_seconds=120.0, resend_unsafe=True)


class BatonClient:
    retries = 0  # across every client of the process: what the simulation reports

    def __init__(
        self,
        nc: NatsClient,
        *,
        credentials: Credentials | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy = NO_RETRY,
    ) -> None:
        self.nc = nc
        self.credentials = credentials
        self.timeout = timeout
        self.retry = retry

    def acting_as(self, credentials: Credentials | None) -> BatonClient:
        """A client on the same connection whose requests come from someone else."""
        return BatonClient(self.nc, credentials=credentials, timeout=self.timeout, retry=self.retry)

    def with_timeout(self, seconds: float) -> BatonClient:
        return BatonClient(self.nc, credentials=self.credentials, timeout=seconds, retry=self.retry)

    async def call(self, route: Route[RequestT, ReplyT], request: RequestT) -> ReplyT:
        """Send `request` to `route`; its reply, or raise the BatonError it was refused with."""
        data = await self._send(route, msgspec.json.encode(request))
        return msgspec.convert(data, route.reply)

    async def call_json(self, route: Route[Any, Any], payload: Mapping[str, Any]) -> Any:
        """Send `payload` as JSON; the reply's data as JSON values, or raise its BatonError."""
        return await self._send(route, msgspec.json.encode(payload))

    async def _send(self, route: Route[Any, Any], body: bytes) -> Any:
        policy = self.retry
        give_up = time.monotonic() + policy.give_up_after_seconds
        backoff = Backoff(base=policy.first_pause_seconds, cap=policy.longest_pause_seconds)
        silent_since: float | None = None
        while True:
            try:
                return unwrap(await self._request(route.subject, body))
            except NoRespondersError:
                # Nothing received it: sending it again is safe, for as long as the caller waits.
                now = time.monotonic()
                if silent_since is None:
                    silent_since = now
                    if policy.waiting_for is not None and self._no_responders_patience(route):
                        policy.waiting_for(route.subject)
                left = silent_since + self._no_responders_patience(route) - now
                if left <= 0:
                    raise NoServiceError(route.subject, now - silent_since) from None
                BatonClient.retries += 1
                await asyncio.sleep(min(backoff.next_delay(), left))
                continue
            except NatsTimeout:
                # Its answer never came: it may have been carried out.
                if not (route.idempotent or policy.resend_unsafe):
                    raise
                pause = None
                failure: Exception
                failure = TimeoutError(f"{route.subject}: no answer within {self.timeout} s")
            except BatonError as refusal:
                if not _may_resend(route, refusal, policy):
                    raise
                failure = refusal
                asked = refusal.details.get("retry_after_ms")
                pause = asked / 1000 if isinstance(asked, int | float) else None
            if time.monotonic() >= give_up:
                raise failure
            BatonClient.retries += 1
            if pause is None:
                await backoff.wait()
            else:
                await asyncio.sleep(pause)

    def _no_responders_patience(self, route: Route[Any, Any]) -> float:
        policy = self.retry
        resends = route.idempotent or policy.resend_unsafe
        return max(policy.no_responders_seconds, policy.give_up_after_seconds if resends else 0.0)

    async def _request(self, subject: str, body: bytes) -> bytes:
        headers = self.credentials.headers() if self.credentials is not None else {}
        # The service drops the request unanswered once we have stopped waiting for it.
        headers = {**headers, **deadline_header(self.timeout)}
        reply = await self.nc.request(subject, body, timeout=self.timeout, headers=headers)
        return reply.data


def _may_resend(route: Route[Any, Any], refusal: BatonError, policy: RetryPolicy) -> bool:
    if refusal.code.retry is not Retry.NOW:
        return False
    return refusal.code in _NOTHING_DONE or route.idempotent or policy.resend_unsafe
