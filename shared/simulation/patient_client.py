"""A client that rides out a service restart, as a texter's app would: a request that times out,
finds no responder, or is answered `unavailable` or `overloaded` is sent again after a pause
(for `overloaded`, the one the service asks for).

Resending is safe for what the simulation sends: texts carry an idempotency key, and a batch
request that did succeed unseen shows up as conversations the texter already holds."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from shared.cli.client import Client
from shared.errors import OVERLOADED, UNAVAILABLE, BatonError


class PatientClient(Client):
    retries = 0

    async def call(self, subject: str, **payload: Any) -> Any:
        deadline = time.monotonic() + 120
        while True:
            try:
                return await super().call(subject, **payload)
            except (NoRespondersError, NatsTimeout) as exc:
                failure: Exception = exc
                pause = 0.5
            except BatonError as refusal:
                if refusal.code not in (UNAVAILABLE, OVERLOADED):
                    raise
                failure = refusal
                pause = refusal.details.get("retry_after_ms", 500) / 1000
            if time.monotonic() > deadline:
                raise failure
            PatientClient.retries += 1
            await asyncio.sleep(pause)
