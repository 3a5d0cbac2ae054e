from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient

from services.registry import REGISTRY
from shared.contract.catalogue import ServiceName
from shared.runtime.settings import CommonSettings
from tests.support.baton_client import Baton
from tests.support.direct import served_directly
from tests.support.services import running
from tools.simulation.telnyx_simulator import TelnyxSimulator
from tools.simulation.twilio_simulator import TwilioSimulator


async def _serve(
    name: ServiceName, settings: CommonSettings, nc: NatsClient, **overrides: Any
) -> AsyncIterator[Baton]:
    """The registered service `name` running on the test's servers, and a client to call it."""
    definition = REGISTRY[name]
    own = definition.settings_type(
        database_url=settings.database_url, nats_url=settings.nats_url, db_pool_min=1, **overrides
    )
    async with running(definition, own):
        yield Baton(nc)


@pytest.fixture
async def assigner(settings: CommonSettings, nc: NatsClient) -> AsyncIterator[Baton]:
    async for baton in _serve("assigner", settings, nc, db_pool_max=20):
        yield baton


@pytest.fixture
async def assigner_over_nats(settings: CommonSettings, nc: NatsClient) -> AsyncIterator[Baton]:
    """The assigner on NATS, for a test in a file whose `assigner` is the in-process one."""
    async for baton in _serve("assigner", settings, nc, db_pool_max=20):
        yield baton


@pytest.fixture
async def sender(settings: CommonSettings, nc: NatsClient) -> AsyncIterator[Baton]:
    async for baton in _serve("sender", settings, nc, outbox_poll_seconds=0.2):
        yield baton


@pytest.fixture
async def inbound(settings: CommonSettings, nc: NatsClient) -> AsyncIterator[Baton]:
    async for baton in _serve(
        "inbound", settings, nc, fetch_timeout_seconds=0.2, retry_delay_seconds=0.2
    ):
        yield baton


@pytest.fixture
async def reaper(settings: CommonSettings, nc: NatsClient) -> AsyncIterator[Baton]:
    async for baton in _serve("reaper", settings, nc):
        yield baton


@pytest.fixture
async def assigner_direct(settings: CommonSettings, pool: asyncpg.Pool) -> AsyncIterator[Baton]:
    """The assigner's endpoints called in process on real Postgres, no NATS (tests/support/
    direct.py): for tests of its logic."""
    definition = REGISTRY["assigner"]
    own = definition.settings_type(
        database_url=settings.database_url, nats_url=settings.nats_url, db_pool_min=1
    )
    async with served_directly(definition, own, pool) as baton:
        yield baton


@pytest.fixture
async def simulator() -> AsyncIterator[TwilioSimulator]:
    """Twilio's Messages API on a port of its own (tools/simulation/twilio_simulator.py)."""
    async with TwilioSimulator() as sim:
        yield sim


@pytest.fixture
async def telnyx() -> AsyncIterator[TelnyxSimulator]:
    """Telnyx's v2 Messaging API on a port of its own (tools/simulation/telnyx_simulator.py)."""
    async with TelnyxSimulator() as sim:
        yield sim
