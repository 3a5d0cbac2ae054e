"""Twilio 21610 end to end: a texter's initial goes from the sender through OUTBOUND and the real
bridge to the simulator, which refuses it as opted out at the carrier; the `failed` receipt
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
from tests.support.bridge import bridge_settings
from tests.support.services import running
from tests.support.waiting import eventually
from tools.simulation.twilio_simulator import TwilioSimulator

pytestmark = pytest.mark.integration


async def test_a_carrier_opt_out_opts_the_contact_out_in_its_organization_without_a_confirmation(
    assigner: Baton,
    sender: Baton,
    settings: CommonSettings,
    nc: NatsClient,
    pool: asyncpg.Pool,
    simulator: TwilioSimulator,
) -> None:
    c = await _ready_campaign(assigner, pool)
    texter = c["texters"][0]
    opted_out, other = c["conversations"][:2]
    phone = await _phone(pool, opted_out)
    simulator.fail(phone, 21610, 400)
    async with running(BRIDGE, bridge_settings(settings, simulator)):
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
    assert (message["delivery_status"], message["error_code"]) == ("failed", "twilio:21610")
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
    assert [a.to for a in simulator.arrivals] == [await _phone(pool, other)]
    assert (
        await pool.fetchval("SELECT delivery_status FROM message WHERE id = $1", sent["message_id"])
        == "sent"
    )
