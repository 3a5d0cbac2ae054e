from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from services.assigner.service import DEFINITION as ASSIGNER
from services.assigner.settings import AssignerSettings
from services.inbound.service import DEFINITION as INBOUND
from services.inbound.settings import InboundSettings
from services.reaper.service import DEFINITION as REAPER
from services.reaper.settings import ReaperSettings
from services.sender.service import DEFINITION as SENDER
from services.sender.settings import SenderSettings
from shared.service import ServiceDefinition
from shared.settings import CommonSettings
from shared.simulation.twilio_simulator import TwilioSimulator
from tests.support.baton_client import Baton
from tests.support.services import running


async def _serve(
    definition: ServiceDefinition, kind: type[CommonSettings], settings: CommonSettings,
    nc: NatsClient, **overrides: Any,
) -> AsyncIterator[Baton]:  # fmt: skip
    """A running service on the test's servers, and a client to call it."""
    own = kind(
        database_url=settings.database_url, nats_url=settings.nats_url, db_pool_min=1, **overrides
    )
    async with running(definition, own):
        yield Baton(nc)


@pytest.fixture
async def assigner(settings: CommonSettings, nc: NatsClient) -> AsyncIterator[Baton]:
    async for baton in _serve(ASSIGNER, AssignerSettings, settings, nc, db_pool_max=20):
        yield baton


@pytest.fixture
async def sender(settings: CommonSettings, nc: NatsClient) -> AsyncIterator[Baton]:
    async for baton in _serve(SENDER, SenderSettings, settings, nc, outbox_poll_seconds=0.2):
        yield baton


@pytest.fixture
async def inbound(settings: CommonSettings, nc: NatsClient) -> AsyncIterator[Baton]:
    async for baton in _serve(INBOUND, InboundSettings, settings, nc,
                              fetch_timeout_seconds=0.2, retry_delay_seconds=0.2):  # fmt: skip
        yield baton


@pytest.fixture
async def reaper(settings: CommonSettings, nc: NatsClient) -> AsyncIterator[Baton]:
    async for baton in _serve(REAPER, ReaperSettings, settings, nc):
        yield baton


@pytest.fixture
async def simulator() -> AsyncIterator[TwilioSimulator]:
    """Twilio's Messages API on a port of its own (shared/simulation/twilio_simulator.py)."""
    async with TwilioSimulator() as sim:
        yield sim
