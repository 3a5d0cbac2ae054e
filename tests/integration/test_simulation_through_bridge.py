"""A simulated campaign through Baton's own provider bridge and the Twilio simulator (issue #31):
the texts take every step a production text takes, and no in-process bridge takes them too."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import nats
import pytest
from nats.aio.client import Client as NatsClient

from services.bridge.outbound import OUTBOUND_CONSUMER
from services.bridge.service import DEFINITION as BRIDGE
from shared.contract.webhook_paths import TWILIO_MESSAGES_PATH
from shared.runtime.client import BatonClient
from shared.runtime.settings import CommonSettings
from tests.support.baton_client import SIGNER, Baton
from tests.support.bridge import bridge_settings
from tests.support.services import running
from tests.support.waiting import eventually
from tools.devservers.ports import free_port
from tools.simulation.run import render, simulate
from tools.simulation.scenario import Scenario, every_sending_number
from tools.simulation.simulator_link import ContactTextRefusedError, SimulatorLink
from tools.simulation.twilio_simulator import TwilioSimulator

pytestmark = pytest.mark.integration

SCENARIO = Scenario(contacts=200, texters=3, batch_size=40, send_rate=200, reply_rate=0.3,
                    stop_rate=0.2, unresponsive=0, release_after_minutes=None,
                    reassign_after_seconds=1, time_limit_seconds=100)  # fmt: skip


@contextlib.asynccontextmanager
async def outbound_consumers_seen(nc: NatsClient) -> AsyncIterator[set[str]]:
    """Every consumer OUTBOUND had while the block ran, looked at every 0.2 s."""
    seen: set[str] = set()

    async def look() -> None:
        while True:
            seen.update(c.name for c in await nc.jetstream().consumers_info("OUTBOUND"))
            await asyncio.sleep(0.2)

    watcher = asyncio.create_task(look())
    try:
        yield seen
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def test_a_campaign_through_the_real_bridge_sends_each_text_once_and_replies_come_signed(
    assigner: Baton,
    sender: Baton,
    inbound: Baton,
    settings: CommonSettings,
    nc: NatsClient,
    pool: asyncpg.Pool,
) -> None:
    port = free_port()
    # As `baton up --provider twilio-simulator` runs it: every number a simulation draws, the
    # carrier's status callbacks, contacts' texts to the bridge's webhook.
    async with TwilioSimulator(
        held_numbers=every_sending_number(),
        messages_url=f"http://127.0.0.1:{port}{TWILIO_MESSAGES_PATH}",
        reports_statuses=True,
    ) as sim:
        own = bridge_settings(settings, sim, bridge_http_port=port,
                              bridge_public_url=f"http://127.0.0.1:{port}",
                              bridge_default_rate=500)  # fmt: skip
        async with running(BRIDGE, own):

            async def numbers_read() -> bool:
                return bool(await pool.fetchval("SELECT count(*) > 0 FROM provider_number"))

            await eventually(numbers_read)
            client_nc = await nats.connect(settings.nats_url)
            link = SimulatorLink(sim.url, sim.account_sid, sim.auth_token)
            try:
                async with outbound_consumers_seen(nc) as consumers:
                    report = await simulate(client_nc, BatonClient(client_nc), SIGNER, SCENARIO,
                                            provider=link)  # fmt: skip
            finally:
                await link.close()
                await client_nc.close()
    print(render(report))
    assert report.finished, render(report)
    assert report.invariants and all(report.invariants.values()), render(report)
    assert "every accepted text reached the provider exactly once" in report.invariants
    assert "simulator" in report.bridge
    # The bridge's consumer alone took texts: no in-process stand-in existed.
    assert consumers == {OUTBOUND_CONSUMER.durable}

    # Each message reached "Twilio" once: one accepted text per message id, as Baton recorded
    # the provider's id for it, and none that Baton did not record.
    rows = await pool.fetch(
        "SELECT m.id, m.kind, m.provider_message_id FROM message m"
        " JOIN conversation c ON c.id = m.conversation_id"
        " WHERE m.direction = 'outbound' AND c.campaign_id = (SELECT max(id) FROM campaign)"
    )
    sent = report.messages["sent"] + report.messages["opt_out_confirmations"]
    assert len(rows) == sent >= SCENARIO.contacts
    recorded = Counter(row["provider_message_id"] for row in rows)
    assert all(pid and n == 1 for pid, n in recorded.items())
    accepted = Counter(f"twilio:{sim.account_sid}:{a.sid}" for a in sim.arrivals)
    assert accepted == recorded

    # Every contact's reply came through the bridge's signed webhook: its provider id is the
    # simulator's account's, one per reply.
    replies = await pool.fetch(
        "SELECT m.provider_message_id FROM message m"
        " JOIN conversation c ON c.id = m.conversation_id"
        " WHERE m.direction = 'inbound' AND c.campaign_id = (SELECT max(id) FROM campaign)"
    )
    assert len(replies) == report.messages["replies"] > report.messages["stops"] >= 1
    assert all(r["provider_message_id"].startswith(f"twilio:{sim.account_sid}:SM") for r in replies)
    assert report.stats["by_status"]["closed"] == report.messages["stops"]


async def test_the_simulators_control_routes_take_the_accounts_credentials_only(
    simulator: TwilioSimulator,
) -> None:
    stranger = SimulatorLink(simulator.url, simulator.account_sid, "0" * 32)
    owner = SimulatorLink(simulator.url, simulator.account_sid, simulator.auth_token)
    try:
        with pytest.raises(aiohttp.ClientResponseError) as refused:
            await stranger.sids_from("+14155550100")
        assert refused.value.status == 401
        assert await owner.sids_from("+14155550100") == []
        # No messaging webhook configured: said, not retried for two minutes.
        with pytest.raises(ContactTextRefusedError, match="no messaging webhook"):
            await owner.contact_text("+12025550100", "+14155550100", "STOP")
    finally:
        await stranger.close()
        await owner.close()
