"""The carrier's opt-out end to end, for each provider (Twilio 21610, Telnyx 40300 "Blocked due to
STOP message"): a texter's initial goes from the sender through OUTBOUND and the real bridge to
the provider's simulator, which refuses it as opted out at the carrier; the `failed` receipt
carries the code, and the sender records the contact's opt-out in that organization as a STOP
would, with no confirmation text (issue #31; Spoke #2184, #451)."""

from __future__ import annotations

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient

from services.bridge.service import DEFINITION as BRIDGE
from shared.contract import catalogue as api
from shared.runtime.settings import CommonSettings
from tests.integration.test_sending_and_replies import _phone, _ready_campaign, _send
from tests.support.baton_client import Baton
from tests.support.bridge import bridge_settings, telnyx_bridge_settings
from tests.support.services import running
from tests.support.waiting import eventually
from tools.simulation.telnyx_simulator import TelnyxSimulator
from tools.simulation.twilio_simulator import TwilioSimulator

pytestmark = pytest.mark.integration
# Each provider's opt-out code, and the HTTP status its send call answers with it.
OPT_OUTS = {"twilio": (21610, 400), "telnyx": (40300, 409)}


@pytest.mark.parametrize("provider", sorted(OPT_OUTS))
async def test_a_carrier_opt_out_opts_the_contact_out_in_its_organization_without_a_confirmation(
    provider: str,
    assigner: Baton,
    sender: Baton,
    settings: CommonSettings,
    nc: NatsClient,
    pool: asyncpg.Pool,
    simulator: TwilioSimulator,
    telnyx: TelnyxSimulator,
) -> None:
    c = await _ready_campaign(assigner, pool)
    texter = c["texters"][0]
    opted_out, other = c["conversations"][:2]
    phone = await _phone(pool, opted_out)
    code, status = OPT_OUTS[provider]
    sim: TwilioSimulator | TelnyxSimulator = simulator if provider == "twilio" else telnyx
    sim.fail(phone, code, status)
    own = (
        bridge_settings(settings, simulator)
        if provider == "twilio"
        else telnyx_bridge_settings(settings, telnyx)
    )
    async with running(BRIDGE, own):
        refused = await sender.call(api.SEND_INITIAL, **_send(texter, opted_out))
        sent = await sender.call(api.SEND_INITIAL, **_send(texter, other))

        async def both_settled() -> bool:
            rows = await pool.fetch(
                "SELECT delivery_status FROM message WHERE id = ANY($1::bigint[])",
                [refused["message_id"], sent["message_id"]],
            )
            return all(r["delivery_status"] != "queued" for r in rows)

        assert await eventually(both_settled, within=30)
        assert await eventually(lambda: pool.fetchval(
            "SELECT source FROM opt_out WHERE org_id = $1 AND phone = $2", c["org"], phone))  # fmt: skip

    message = await pool.fetchrow(
        "SELECT delivery_status, error_code FROM message WHERE id = $1", refused["message_id"]
    )
    assert (message["delivery_status"], message["error_code"]) == ("failed", f"{provider}:{code}")
    assert (
        await pool.fetchval(
            "SELECT source FROM opt_out WHERE org_id = $1 AND phone = $2", c["org"], phone
        )
        == "carrier"
    )
    # Closed, as a STOP closes it; no confirmation queued (the carrier blocks every text anyway).
    assert (
        await pool.fetchval("SELECT status FROM conversation WHERE id = $1", opted_out) == "closed"
    )
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM message WHERE conversation_id = $1 AND direction = 'outbound'",
            opted_out,
        )
        == 1
    )
    assert [a.to for a in sim.arrivals] == [await _phone(pool, other)]
    assert (
        await pool.fetchval("SELECT delivery_status FROM message WHERE id = $1", sent["message_id"])
        == "sent"
    )
