"""A simulated campaign through Baton's own provider bridge and the Twilio or Telnyx simulator
(issue #31): the texts take every step a production text takes, and no in-process bridge takes
them too."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp
import asyncpg
import nats
import pytest
from nats.aio.client import Client as NatsClient

from services.bridge.outbound import OUTBOUND_CONSUMER
from services.bridge.service import DEFINITION as BRIDGE
from services.bridge.settings import PROVIDERS, BridgeSettings
from shared.contract.webhook_paths import TELNYX_WEBHOOKS_PATH, TWILIO_MESSAGES_PATH
from shared.runtime.client import BatonClient
from shared.runtime.settings import CommonSettings
from tests.support.baton_client import SIGNER, Baton
from tests.support.bridge import bridge_settings, telnyx_bridge_settings
from tests.support.services import running
from tests.support.waiting import eventually
from tools.devservers.ports import free_port
from tools.simulation.run import render, simulate
from tools.simulation.scenario import Scenario, every_sending_number
from tools.simulation.simulator_link import ContactTextRefusedError, SimulatorLink
from tools.simulation.telnyx_simulator import TelnyxSimulator, new_message_id
from tools.simulation.twilio_simulator import TwilioSimulator, new_message_sid

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


@dataclass(frozen=True)
class Simulated:
    """A provider simulator as `baton up --provider ...-simulator` runs it, with its bridge's
    settings, `baton simulate`'s link to it, and the ids Baton stores its messages under."""

    bridge: BridgeSettings
    link: SimulatorLink
    # Every text the simulator accepted, as Baton stores its provider id.
    accepted: Callable[[], list[str]]
    # What a contact's text's stored id starts with.
    reply_prefix: str


@contextlib.asynccontextmanager
async def simulated(provider: str, settings: CommonSettings) -> AsyncIterator[Simulated]:
    """Every number a simulation draws, the carrier's status events, contacts' texts to the
    bridge's webhook; the bridge fast enough for the campaign."""
    port = free_port()
    listener = f"http://127.0.0.1:{port}"
    fast = {"bridge_http_port": port, "bridge_public_url": listener, "bridge_default_rate": 500}
    if provider == "twilio":
        async with TwilioSimulator(
            held_numbers=every_sending_number(), messages_url=listener + TWILIO_MESSAGES_PATH,
            reports_statuses=True,
        ) as twilio:  # fmt: skip
            prefix = f"twilio:{twilio.account_sid}:"
            yield Simulated(
                bridge_settings(settings, twilio, **fast),
                SimulatorLink(twilio.control_url, twilio.authorization, new_message_sid),
                lambda: [prefix + a.sid for a in twilio.arrivals],
                prefix + "SM",
            )
        return
    async with TelnyxSimulator(
        held_numbers=every_sending_number(), messages_url=listener + TELNYX_WEBHOOKS_PATH,
        reports_statuses=True,
    ) as telnyx:  # fmt: skip
        yield Simulated(
            telnyx_bridge_settings(settings, telnyx, **fast),
            SimulatorLink(telnyx.control_url, telnyx.authorization, new_message_id),
            lambda: [f"telnyx:default:{a.id}" for a in telnyx.arrivals],
            "telnyx:default:",
        )


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_campaign_through_the_real_bridge_sends_each_text_once_and_replies_come_signed(
    provider: str,
    assigner: Baton,
    sender: Baton,
    inbound: Baton,
    settings: CommonSettings,
    nc: NatsClient,
    pool: asyncpg.Pool,
) -> None:
    async with simulated(provider, settings) as sim, running(BRIDGE, sim.bridge):

        async def numbers_read() -> bool:
            return bool(await pool.fetchval("SELECT count(*) > 0 FROM provider_number"))

        await eventually(numbers_read)
        client_nc = await nats.connect(settings.nats_url)
        try:
            async with outbound_consumers_seen(nc) as consumers:
                report = await simulate(client_nc, BatonClient(client_nc), SIGNER, SCENARIO,
                                        provider=sim.link)  # fmt: skip
        finally:
            await sim.link.close()
            await client_nc.close()
        accepted = Counter(sim.accepted())
    print(render(report))
    assert report.finished, render(report)
    assert report.invariants and all(report.invariants.values()), render(report)
    assert "every accepted text reached the provider exactly once" in report.invariants
    assert "simulator" in report.bridge
    # The bridge's consumer alone took texts: no in-process stand-in existed.
    assert consumers == {OUTBOUND_CONSUMER.durable}

    # Each message reached the provider once: one accepted text per message id, as Baton
    # recorded the provider's id for it, and none that Baton did not record.
    rows = await pool.fetch(
        "SELECT m.id, m.kind, m.provider_message_id FROM message m"
        " JOIN conversation c ON c.id = m.conversation_id"
        " WHERE m.direction = 'outbound' AND c.campaign_id = (SELECT max(id) FROM campaign)"
    )
    sent = report.messages["sent"] + report.messages["opt_out_confirmations"]
    assert len(rows) == sent >= SCENARIO.contacts
    recorded = Counter(row["provider_message_id"] for row in rows)
    assert all(pid and n == 1 for pid, n in recorded.items())
    assert accepted == recorded

    # Every contact's reply came through the bridge's signed webhook: its provider id is the
    # simulator's account's, one per reply.
    replies = await pool.fetch(
        "SELECT m.provider_message_id FROM message m"
        " JOIN conversation c ON c.id = m.conversation_id"
        " WHERE m.direction = 'inbound' AND c.campaign_id = (SELECT max(id) FROM campaign)"
    )
    assert len(replies) == report.messages["replies"] > report.messages["stops"] >= 1
    assert all(r["provider_message_id"].startswith(sim.reply_prefix) for r in replies)
    assert report.stats["by_status"]["closed"] == report.messages["stops"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_simulators_control_routes_take_the_accounts_credentials_only(
    provider: str,
) -> None:
    """As the provider's API: Twilio's account SID with another token, or another Telnyx API
    key, is refused 401."""
    twilio, telnyx = TwilioSimulator(), TelnyxSimulator()
    simulator, wrong, new_id = (
        (twilio, TwilioSimulator(account_sid=twilio.account_sid, auth_token="0" * 32),
         new_message_sid)
        if provider == "twilio"
        else (telnyx, TelnyxSimulator(api_key="KEY" + "0" * 32), new_message_id)
    )  # fmt: skip
    async with simulator:
        stranger = SimulatorLink(simulator.control_url, wrong.authorization, new_id)
        owner = SimulatorLink(simulator.control_url, simulator.authorization, new_id)
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
