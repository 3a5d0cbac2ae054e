"""A client that rides out a service restart, as a texter's app would: a request that times out,
finds no responder, or is answered `unavailable` is sent again after a pause.

Resending is safe for what the simulation sends: texts carry an idempotency key, and a batch
request that did succeed unseen shows up as conversations the texter already holds."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from shared.cli.client import Client
from shared.errors import UNAVAILABLE, BatonError


class PatientClient(Client):
    retries = 0

    async def call(self, subject: str, **payload: Any) -> Any:
        deadline = time.monotonic() + 120
        while True:
            try:
                return await super().call(subject, **payload)
            except (NoRespondersError, NatsTimeout) as exc:
                failure: Exception = exc
            except BatonError as refusal:
                if refusal.code != UNAVAILABLE:
                    raise
                failure = refusal
            if time.monotonic() > deadline:
                raise failure
            PatientClient.retries += 1
            await asyncio.sleep(0.5)
