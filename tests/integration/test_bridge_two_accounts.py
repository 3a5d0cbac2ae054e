"""The same provider id through two provider accounts' bridges (issue #31), for each provider.

Baton assumes no more of a provider's ids than that they are unique within one account: Twilio's
`SM...` are, and Telnyx's are taken the same way, per messaging profile. Each bridge stores them
as `{provider}:{account}:{id}`, so the same id reaching two organizations' numbers through two
accounts is two messages, and each STOP stays in the organization owning the number it was sent
to. Each contact's text is signed by that provider's simulator as the provider signs it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import pytest

from services.bridge.service import DEFINITION as BRIDGE
from services.bridge.settings import PROVIDERS, BridgeSettings
from shared.runtime.settings import CommonSettings
from tests.integration.test_bridge_webhooks import contact_text
from tests.integration.test_routing import NUMBER_A, NUMBER_B, _sharing_a_contact
from tests.support.baton_client import Baton
from tests.support.bridge import bridge_settings, telnyx_bridge_settings
from tests.support.services import running
from tests.support.waiting import eventually
from tools.devservers.ports import free_port
from tools.simulation.telnyx_simulator import TelnyxSimulator
from tools.simulation.twilio_simulator import TwilioSimulator

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Account:
    """One provider account, as this test drives it."""

    bridge: BridgeSettings
    # A contact's text (provider id, from, to, body) posted to the bridge's webhook, signed as
    # the provider signs it: the HTTP status back.
    text: Callable[[str, str, str, str], Awaitable[int]]
    # The id Baton stores a provider id of this account under.
    stored: Callable[[str], str]


@asynccontextmanager
async def account(provider: str, settings: CommonSettings, name: str) -> AsyncIterator[Account]:
    """A simulator of its own (its own credentials and signing key) and its bridge's settings;
    `name` is the Telnyx messaging profile (Twilio's account SID is the simulator's own)."""
    port = free_port()
    listener = f"http://127.0.0.1:{port}"
    if provider == "twilio":
        async with TwilioSimulator() as twilio:

            async def twilio_text(sid: str, from_: str, to: str, body: str) -> int:
                params = {**contact_text(twilio, sid, body), "From": from_, "To": to}
                return await twilio.signed_post(f"{listener}/twilio/messages", params)

            own = bridge_settings(settings, twilio, bridge_http_port=port)
            yield Account(own, twilio_text, lambda sid: f"twilio:{twilio.account_sid}:{sid}")
        return
    async with TelnyxSimulator() as telnyx:

        async def telnyx_text(message_id: str, from_: str, to: str, body: str) -> int:
            event = telnyx.received_event(message_id, from_, to, body, profile=name)
            return await telnyx.signed_post(f"{listener}/telnyx/webhooks", event)

        own = telnyx_bridge_settings(
            settings, telnyx, bridge_http_port=port, telnyx_messaging_profile_id=name
        )
        yield Account(own, telnyx_text, lambda message_id: f"telnyx:{name}:{message_id}")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_one_provider_id_from_two_accounts_is_two_texts_and_each_stop_stays_home(
    provider: str, assigner: Baton, sender: Baton, inbound: Baton, settings: CommonSettings,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    a, b, phone, in_a, in_b = await _sharing_a_contact(assigner, sender, pool, NUMBER_A, NUMBER_B)
    async with account(provider, settings, "profile-a") as first, \
            account(provider, settings, "profile-b") as second, \
            running(BRIDGE, first.bridge), running(BRIDGE, second.bridge):  # fmt: skip
        for home, number in ((first, NUMBER_A), (second, NUMBER_B)):
            assert await home.text("same-id", phone, number, "STOP") == 200

        async def both_opted_out() -> bool:
            return bool(
                await pool.fetchval("SELECT count(*) = 2 FROM opt_out WHERE phone = $1", phone)
            )

        assert await eventually(both_opted_out, within=30)

    stored = await pool.fetch(
        "SELECT provider_message_id, conversation_id FROM message WHERE direction = 'inbound'"
    )
    assert sorted((r["provider_message_id"], r["conversation_id"]) for r in stored) == sorted(
        [(first.stored("same-id"), in_a), (second.stored("same-id"), in_b)]
    )
    assert first.stored("same-id") != second.stored("same-id")
    assert sorted(
        tuple(r) for r in await pool.fetch("SELECT org_id, phone FROM opt_out")
    ) == sorted([(a["org"], phone), (b["org"], phone)])
