"""The inbound service's definition: what it serves and which workers it runs."""

from __future__ import annotations

from services.inbound.consumer import INBOUND_SMS_CONSUMER
from services.inbound.replies import Replies
from services.inbound.settings import InboundSettings
from shared.contract.schemas.messaging import InboundSms
from shared.runtime.pull_worker import PullWorker
from shared.runtime.service import ServiceContext, ServiceDefinition, Worker


def workers(context: ServiceContext[InboundSettings]) -> list[Worker]:
    settings = context.settings
    worker = PullWorker(
        context.js,
        INBOUND_SMS_CONSUMER,
        InboundSms,
        Replies(context.pool, context.outbox.nudge).ingest,
        source="inbound",
        batch=settings.fetch_batch,
        fetch_timeout=settings.fetch_timeout_seconds,
        retry_delay=settings.retry_delay_seconds,
        # Every fetched message at once: the replies among them wait together for one commit.
        concurrency=settings.fetch_batch,
        on_outage=context.pool.expire_connections,
    )
    return [worker.run]


DEFINITION = ServiceDefinition(
    name="inbound",
    settings_type=InboundSettings,
    consumers=(INBOUND_SMS_CONSUMER,),
    workers=workers,
)
