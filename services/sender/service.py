"""The sender service's definition: what it serves and which workers it runs."""

from __future__ import annotations

from typing import Any

from services.sender.consumer import RECEIPTS_CONSUMER
from services.sender.manual_opt_out import ManualOptOut
from services.sender.receipts import Receipts
from services.sender.sending import Sending
from services.sender.settings import SenderSettings
from shared.contract import catalogue as api
from shared.contract.schemas.messaging import Receipt
from shared.domain.clock import Clock, utc_now
from shared.runtime.endpoints import Endpoint, bound
from shared.runtime.jetstream import EVENTS_PREFIX, OUTBOUND_PREFIX
from shared.runtime.pull_worker import PullWorker
from shared.runtime.service import ServiceContext, ServiceDefinition, Worker


def endpoints(
    context: ServiceContext[SenderSettings], clock: Clock = utc_now
) -> list[Endpoint[Any]]:
    """`clock`: what "now" is for texting hours (tests inject one)."""
    sending = Sending(context.pool, context.outbox, clock)
    manual = ManualOptOut(context.pool, context.outbox)
    return [
        bound(api.SEND_INITIAL, sending.initial),
        bound(api.SEND_REPLY, sending.reply),
        bound(api.SEND_OPT_OUT, manual.opt_out),
    ]


def workers(context: ServiceContext[SenderSettings]) -> list[Worker]:
    receipts = PullWorker(
        context.js,
        RECEIPTS_CONSUMER,
        Receipt,
        Receipts(context.pool).apply,
        source="receipts",
        on_outage=context.pool.expire_connections,
    )
    return [receipts.run]


DEFINITION = ServiceDefinition(
    name="sender",
    settings_type=SenderSettings,
    endpoints=endpoints,
    consumers=(RECEIPTS_CONSUMER,),
    workers=workers,
    # Texts, its own and those other services queue (an opt-out's confirmation, from inbound):
    # only the sender's NATS user may put a text on OUTBOUND.
    publishes=(EVENTS_PREFIX, OUTBOUND_PREFIX),
)
