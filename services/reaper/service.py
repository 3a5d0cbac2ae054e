"""The reaper service's definition: what it serves and which workers it runs."""

from __future__ import annotations

import asyncio
from typing import Any

from services.reaper.campaign_gauges import report_campaign_gauges
from services.reaper.releasing import Releaser
from services.reaper.settings import ReaperSettings
from services.reaper.tallies import fold_forever
from shared.contract import catalogue as api
from shared.runtime.endpoints import Endpoint, bound
from shared.runtime.service import ServiceContext, ServiceDefinition, Worker


def endpoints(context: ServiceContext[ReaperSettings]) -> list[Endpoint[Any]]:
    releaser = Releaser(context.pool, context.outbox)
    return [
        bound(api.RELEASE_UNHANDLED, releaser.release_unhandled),
        bound(api.RELEASE_STALE_INITIALS, releaser.release_stale_initials),
    ]


def workers(context: ServiceContext[ReaperSettings]) -> list[Worker]:
    settings = context.settings
    interval = settings.reap_interval_seconds
    fold_interval = settings.tally_fold_interval_seconds
    releaser = Releaser(context.pool, context.outbox)

    async def gauges() -> None:
        await report_campaign_gauges(context.pool)

    async def reap(stop: asyncio.Event) -> None:
        await releaser.run(stop, interval, every_minute=gauges)

    async def fold(stop: asyncio.Event) -> None:
        await fold_forever(context.pool, stop, fold_interval)

    return [reap, fold]


DEFINITION = ServiceDefinition(
    name="reaper", settings_type=ReaperSettings, endpoints=endpoints, workers=workers
)
