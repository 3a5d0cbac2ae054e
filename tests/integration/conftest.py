from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client as NatsClient

from services.assigner.service import DEFINITION as ASSIGNER
from shared.settings import AssignerSettings, CommonSettings
from tests.support.baton_client import Baton
from tests.support.services import running


@pytest.fixture
async def assigner(settings: CommonSettings, nc: NatsClient) -> AsyncIterator[Baton]:
    """A running assigner and a client for it."""
    assigner_settings = AssignerSettings(
        database_url=settings.database_url,
        nats_url=settings.nats_url,
        db_pool_min=1,
        db_pool_max=20,
    )
    async with running(ASSIGNER, assigner_settings):
        yield Baton(nc)


@pytest.fixture
async def sender(settings: CommonSettings, nc: NatsClient) -> AsyncIterator[Baton]:
    from services.sender.service import DEFINITION as SENDER
    from shared.settings import SenderSettings

    sender_settings = SenderSettings(
        database_url=settings.database_url, nats_url=settings.nats_url, db_pool_min=1,
        outbox_poll_seconds=0.2,
    )  # fmt: skip
    async with running(SENDER, sender_settings):
        yield Baton(nc)


@pytest.fixture
async def inbound(settings: CommonSettings, nc: NatsClient) -> AsyncIterator[Baton]:
    from services.inbound.service import DEFINITION as INBOUND
    from shared.settings import InboundSettings

    inbound_settings = InboundSettings(
        database_url=settings.database_url, nats_url=settings.nats_url, db_pool_min=1,
        fetch_timeout_seconds=0.2, retry_delay_seconds=0.2,
    )  # fmt: skip
    async with running(INBOUND, inbound_settings):
        yield Baton(nc)
