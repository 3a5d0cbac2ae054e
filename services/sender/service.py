"""The sender service's definition: what it serves and which workers it runs."""

from __future__ import annotations

from typing import Any

from services.sender.receipts import Receipts
from services.sender.sending import Sending
from shared.endpoints import Endpoint
from shared.jetstream import RECEIPTS_CONSUMER
from shared.pull_worker import PullWorker
from shared.schemas.messaging import Receipt, Send
from shared.service import ServiceContext, ServiceDefinition, Worker


def endpoints(context: ServiceContext) -> list[Endpoint[Any]]:
    sending = Sending(context.pool, context.outbox)
    return [
        Endpoint("baton.send.initial", Send, sending.initial),
        Endpoint("baton.send.reply", Send, sending.reply),
    ]


def workers(context: ServiceContext) -> list[Worker]:
    receipts = PullWorker(
        context.js, RECEIPTS_CONSUMER, Receipt, Receipts(context.pool).apply, source="receipts"
    )
    return [receipts.run]


DEFINITION = ServiceDefinition(
    name="sender", endpoints=endpoints, consumers=(RECEIPTS_CONSUMER,), workers=workers
)
