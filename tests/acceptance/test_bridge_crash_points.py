"""The bridge killed (`kill -9`, shared/runtime/failpoints.py) at every step between taking a text
and acking it, and started again each time, as `baton up` or an orchestrator would: the provider's
simulator (Twilio's, then Telnyx's) counts at most one send per `message_id`, and in the end every
text was sent exactly once, with one `sent` receipt naming the provider's id (issue #31). Through
Telnyx a text whose call's answer was lost is sent again with its Idempotency-Key, which the
simulator answers from its record: a replay, not a second text."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from pathlib import Path

import msgspec
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from shared.contract import catalogue as api
from shared.contract.schemas.messaging import OutboundSms
from shared.runtime.failpoints import BRIDGE_STEPS
from shared.runtime.jetstream import declare_all
from tests.support.services import service_process
from tests.support.waiting import eventually
from tools.simulation.telnyx_simulator import TelnyxSimulator
from tools.simulation.twilio_simulator import Arrival as TwilioArrival
from tools.simulation.twilio_simulator import TwilioSimulator

pytestmark = pytest.mark.acceptance
POINTS = [f"bridge-outbound:{step}" for step in BRIDGE_STEPS]


def _provider(sim: TwilioSimulator | TelnyxSimulator) -> tuple[dict[str, str], str, str]:
    """The bridge's settings for the simulator, its secret, and the provider ids' prefix."""
    if isinstance(sim, TelnyxSimulator):
        settings = {"bridge_provider": "telnyx", "telnyx_api_key": sim.api_key,
                    "telnyx_public_key": sim.public_key, "telnyx_api_url": sim.url}  # fmt: skip
        return settings, sim.api_key, "telnyx:default"
    settings = {"bridge_provider": "twilio", "twilio_account_sid": sim.account_sid,
                "twilio_auth_token": sim.auth_token, "twilio_api_url": sim.url}  # fmt: skip
    return settings, sim.auth_token, f"twilio:{sim.account_sid}"


@pytest.mark.timeout(400)
@pytest.mark.parametrize(
    "simulator_type", [TwilioSimulator, TelnyxSimulator], ids=["twilio", "telnyx"]
)
async def test_a_bridge_killed_at_every_step_sends_each_text_once(
    simulator_type: type[TwilioSimulator | TelnyxSimulator],
    database_url: str,
    nats_url: str,
    nc: NatsClient,
    tmp_path: Path,
) -> None:
    js = nc.jetstream()
    await declare_all(js)
    texts = [
        OutboundSms(message_id=i, conversation_id=i, campaign_id=1, org_id=1,
                    to=f"+1202555{i:04d}", from_number="+14155550100", body=f"Text {i}",
                    kind="initial")
        for i in range(1, 13)
    ]  # fmt: skip
    receipts: dict[int, list[dict[str, object]]] = {}

    async def take(msg: Msg) -> None:
        receipt = json.loads(msg.data)
        receipts.setdefault(receipt["message_id"], []).append(receipt)

    await js.subscribe(api.INBOUND_RECEIPT.subject, stream="INBOUND", cb=take)
    once = tmp_path / "once"
    once.mkdir()
    async with simulator_type() as sim:
        own, secret, namespace = _provider(sim)
        for one in texts:
            await js.publish(api.OUTBOUND_SMS.at(str(one.message_id)), msgspec.json.encode(one),
                             headers={"Nats-Msg-Id": str(one.message_id)})  # fmt: skip
        settings = {
            **own, "bridge_provider_timeout_seconds": "2", "bridge_default_rate": "50",
            "bridge_http_port": "0",
            "crash_points": ",".join(POINTS), "crash_once_dir": str(once),
        }  # fmt: skip
        stop = asyncio.Event()
        deaths: list[int] = []

        async def keep_running() -> None:
            while not stop.is_set():
                async with service_process(
                    "bridge", database_url, nats_url, tmp_path / "bridge.log", **settings
                ) as process:
                    died = asyncio.create_task(process.wait())
                    stopped = asyncio.create_task(stop.wait())
                    await asyncio.wait({died, stopped}, return_when=asyncio.FIRST_COMPLETED)
                    stopped.cancel()
                    if died.done():
                        deaths.append(died.result())
                    else:
                        died.cancel()

        supervisor = asyncio.create_task(keep_running())
        try:

            async def all_sent() -> bool:
                return all(receipts.get(t.message_id) for t in texts)

            assert await eventually(all_sent, within=300)
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(supervisor, timeout=40)

    # Six processes' logs, crashes and all: the account's token (or key) is in none of them.
    logged = (tmp_path / "bridge.log").read_text()
    assert "provider_numbers_read" in logged and secret not in logged
    fired = sorted(p.name for p in once.iterdir())
    assert fired == sorted(f"bridge.{p.replace(':', '.')}" for p in POINTS)
    assert deaths == [-9] * len(POINTS)  # SIGKILL, once at each point, and no other death
    sends = Counter(a.body for a in sim.arrivals)
    assert sends == {t.body: 1 for t in texts}, sends
    by_body = {a.body: a.sid if isinstance(a, TwilioArrival) else a.id for a in sim.arrivals}
    for one in texts:
        statuses = [(r["status"], r["provider_message_id"]) for r in receipts[one.message_id]]
        assert statuses == [("sent", f"{namespace}:{by_body[one.body]}")]
