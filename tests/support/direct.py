"""A service's endpoints called in the test's process, against real Postgres, without NATS.

`InProcessTransport` stands where the NATS connection stands under
`shared/runtime/client.BatonClient` (its one call, `request`), and hands each request to the path a
NATS request takes inside the service: `shared/runtime/endpoints.answer` (the bearer token, the
payload's bound, decoding, the handler, the envelope). Only the transport is skipped, as
FastStream's TestNatsBroker skips it: logic tests run here with nothing between them and the
handler, while transport, permissions and fault tests keep real NATS. What a handler publishes goes
into the outbox table as always; nothing publishes it. An endpoint that needs JetStream itself (the
exports' Object Store) is not for this path: the context it gets has no connection, and calling it
fails loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any, cast

import asyncpg
from nats.errors import NoRespondersError

from shared.runtime.endpoints import Endpoint, answer
from shared.runtime.outbox import OutboxPublisher
from shared.runtime.service import ServiceContext, ServiceDefinition
from shared.runtime.settings import CommonSettings
from shared.runtime.tokens import TokenVerifier, verifier_from_settings
from tests.support.baton_client import TEST_AUTH_SECRET, Baton


@dataclass(frozen=True)
class Answer:
    data: bytes


class InProcessTransport:
    """`request` as nats-py's client has it, answered by endpoints in this process."""

    def __init__(self, endpoints: list[Endpoint[Any]], settings: CommonSettings) -> None:
        self._endpoints = {endpoint.subject: endpoint for endpoint in endpoints}
        self._verifier: TokenVerifier = verifier_from_settings(settings)
        self._max_bytes = settings.max_request_bytes

    async def request(
        self,
        subject: str,
        payload: bytes,
        timeout: float = 10.0,  # noqa: ASYNC109 (the signature nats-py's request has)
        headers: dict[str, str] | None = None,
    ) -> Answer:
        endpoint = self._endpoints.get(subject)
        if endpoint is None:  # as NATS answers a subject nobody serves
            raise NoRespondersError
        reply, _ = await asyncio.wait_for(
            answer(endpoint, payload, self._max_bytes, headers, self._verifier), timeout
        )
        return Answer(reply)


@contextlib.asynccontextmanager
async def served_directly(
    definition: ServiceDefinition, settings: CommonSettings, pool: asyncpg.Pool
) -> AsyncIterator[Baton]:
    """The tests' client (`Baton`) answered by `definition`'s endpoints on `pool`, with the
    workers the definition declares (the assigner's phone checks, its pool floors)."""
    if not (settings.auth_secret or settings.auth_public_keys):
        settings = replace(settings, auth_secret=TEST_AUTH_SECRET)
    no_connection = cast(Any, None)  # what reaches for NATS belongs in a test on NATS
    outbox = OutboxPublisher(definition.name, pool, no_connection, subjects=definition.publishes)
    context = ServiceContext(definition.name, settings, pool, no_connection, no_connection, outbox)
    endpoints = definition.endpoints(context)
    stop = asyncio.Event()
    loops = [asyncio.create_task(loop(stop)) for loop in definition.workers(context)]
    try:
        yield Baton(cast(Any, InProcessTransport(endpoints, settings)))
    finally:
        stop.set()
        await asyncio.gather(*loops)
