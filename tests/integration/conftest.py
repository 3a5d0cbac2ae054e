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
